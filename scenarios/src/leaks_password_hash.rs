//! Check `leaks.password_hash`: no password hash leaves the database. It walks every endpoint
//! (see [`tour`](crate::tour)), reads the stored hashes directly as the auditor role, and scans
//! for those exact values and for the common hash formats (argon2, bcrypt, scrypt, pbkdf2,
//! SCRAM verifiers, Postgres md5, phpass) in:
//!
//! - every response that any check of the run received (the deployment's response log);
//! - the stdout and stderr of every app container of the run;
//! - every row of `audit_log`, column by column.
//!
//! NOTE: the exact values are the hashes stored when the check runs. A hash of a user deleted
//! before (such as crud.smoke's) is found only by its format.

use std::time::Instant;

use harness::check::CheckResult;
use harness::run::Run;
use harness::scan::{Canary, Finding, Scanner, password_hash_formats};
use harness::secret::Secret;
use sqlx::PgPool;
use uuid::Uuid;

use crate::lane_evidence::LaneEvidence;
use crate::leak_scan::{app_containers, scan_container_logs, scan_responses, summarize};
use crate::redact::redact;
use crate::tour;

/// Stable check name.
pub const NAME: &str = "leaks.password_hash";

/// Runs the check on a run whose app is started.
pub async fn run(run: &Run) -> CheckResult {
    run_with_lanes(run, &[]).await
}

/// Runs the check on a run whose app is started, and also scans the responses, app logs and
/// `audit_log` rows of the run's other `lanes` for every lane's stored hashes and the formats.
pub async fn run_with_lanes(run: &Run, lanes: &[LaneEvidence]) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, "check started");

    let result = match check(run, lanes).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, summarize(findings))
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Returns the findings and the pass message, or the reason no verdict was reached.
async fn check(run: &Run, lanes: &[LaneEvidence]) -> Result<(Vec<Finding>, String), String> {
    let deployment = run.deployment();
    let mut walk = tour::walk(deployment, NAME)
        .await
        .map_err(|error| format!("walking the API failed: {error}"))?;

    let pool = deployment
        .pool(&deployment.auditor)
        .await
        .map_err(|error| {
            format!(
                "connecting to Postgres as the auditor role failed: {}",
                redact(deployment, &error.to_string())
            )
        })?;
    let outcome = scan(run, &pool, lanes).await;
    tour::clean_up(deployment, NAME, &mut walk).await;
    pool.close().await;
    let (findings, summary) = outcome?;

    let mut passed = format!(
        "none of the {} stored hashes and no hash format in {} responses ({} from this \
         check's walk), the logs of {} or {} audit_log rows",
        summary.hashes,
        summary.responses,
        walk.requests(),
        app_containers(summary.app_containers),
        summary.audit_rows
    );
    if !lanes.is_empty() {
        let names: Vec<&str> = lanes.iter().map(|lane| lane.lane.as_str()).collect();
        passed.push_str(&format!(
            " (with lane {}, whose responses, app logs and rows are counted here)",
            names.join(", ")
        ));
    }
    Ok((findings, passed))
}

/// Counts of what a scan covered, for the pass message.
struct Coverage {
    hashes: usize,
    responses: usize,
    app_containers: usize,
    audit_rows: usize,
}

async fn scan(
    run: &Run,
    pool: &PgPool,
    lanes: &[LaneEvidence],
) -> Result<(Vec<Finding>, Coverage), String> {
    let deployment = run.deployment();
    let database_error = |error: sqlx::Error| {
        format!(
            "reading the database as the auditor role failed: {}",
            redact(deployment, &error.to_string())
        )
    };

    let stored: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, password_hash FROM users")
        .fetch_all(pool)
        .await
        .map_err(database_error)?;
    let mut canaries: Vec<Canary> = stored
        .iter()
        .filter(|(_, hash)| hash.len() >= harness::scan::MIN_CANARY_LEN)
        .map(|(id, hash)| Canary::new(format!("password hash of user {id}"), Secret::new(hash)))
        .collect();
    for lane in lanes {
        canaries.extend(lane.password_hashes.iter().cloned());
    }
    let hashes = canaries.len();
    let scanner = Scanner::new(canaries, password_hash_formats())
        .map_err(|error| format!("building the scanner failed: {error}"))?;

    let mut responses = deployment.responses.responses();
    let mut app_logs = run
        .app_logs()
        .await
        .map_err(|error| format!("reading the app container logs failed: {error}"))?;
    for lane in lanes {
        responses.extend(lane.responses.iter().cloned());
        app_logs.extend(lane.app_logs.iter().cloned());
    }
    let mut findings = scan_responses(&scanner, &responses);
    findings.extend(scan_container_logs(&scanner, &app_logs));

    let rows: Vec<(i64, serde_json::Value)> =
        sqlx::query_as("SELECT id, to_jsonb(audit_log) FROM audit_log ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(database_error)?;
    for (id, row) in &rows {
        findings.extend(scanner.scan_json(format!("audit_log row id={id}"), row));
    }
    let mut audit_rows = rows.len();
    for lane in lanes {
        for (id, row) in &lane.audit_rows {
            let source = format!("audit_log row id={id} of lane {}", lane.lane);
            findings.extend(scanner.scan_json(source, row));
        }
        audit_rows += lane.audit_rows.len();
    }

    let coverage = Coverage {
        hashes,
        responses: responses.len(),
        app_containers: app_logs.len(),
        audit_rows,
    };
    Ok((findings, coverage))
}
