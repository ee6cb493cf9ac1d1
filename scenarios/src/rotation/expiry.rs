//! Check `rotation.expiry`: the app role's VALID UNTIL passes during the run, under steady
//! load. PostgreSQL checks VALID UNTIL only at login, so:
//!
//! - existing connections go on working: the app's pool keeps acknowledging writes, and a
//!   session the harness opened before the expiry still runs queries;
//! - new connections fail: a new login from the harness is rejected, and once the app's
//!   sessions end (as when a pool recycles its connections) the app cannot log in again;
//! - the app reports it: `/readyz` returns 503 `database_unreachable`, which the HTTP contract
//!   documents for a rejected login, and the app's log names the failed login, with no
//!   password in any log.
//!
//! Then the drill removes the expiry and the app must recover without a restart, with no
//! acknowledged write lost.

use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::deployment::DATABASE;
use harness::logs;
use harness::rotation;
use harness::run::Run;
use reqwest::StatusCode;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

use super::{
    Deadlines, INVALID_PASSWORD, SteadyLoad, crud_round_trip, login, password_findings, readiness,
    wait_until_ready,
};
use crate::leak_scan::app_containers;
use crate::redact::redact;

/// Stable check name.
pub const NAME: &str = "rotation.expiry";

/// Seconds from setting VALID UNTIL to its passing: long enough for the statement to return.
const EXPIRES_IN_SECONDS: u32 = 2;
/// Server message for a rejected password, which the app's log must contain once it cannot log
/// in. PostgreSQL 15 sends the same message to a client whose role has expired.
const LOGIN_FAILED_TEXT: &str = "password authentication failed";

/// Whether the drill sets the expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// VALID UNTIL passes during the drill.
    Passes,
    /// VALID UNTIL is never set. For the check's self-test.
    NotSet,
}

/// Runs the drill on a run whose app is started, with the default deadlines. The role has no
/// expiry afterwards.
pub async fn run(run: &mut Run) -> CheckResult {
    run_with(run, Expiry::Passes, Deadlines::default()).await
}

/// Runs the drill with or without the expiry, waiting at most `deadlines` at each step.
pub async fn run_with(run: &mut Run, expiry: Expiry, deadlines: Deadlines) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, ?expiry, ?deadlines, "check started");

    let result = match check(run, expiry, deadlines).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(
    run: &mut Run,
    expiry: Expiry,
    deadlines: Deadlines,
) -> Result<(Vec<String>, String), String> {
    let steady = SteadyLoad::start(run.deployment(), NAME).await?;
    let mut findings = Vec::new();
    let outcome = drill(run, &steady, expiry, deadlines, &mut findings).await;
    let verification = steady.finish_database_first(run.deployment(), NAME).await;
    let recovered_after = outcome?;
    let (verification, api_finding) = verification?;
    findings.extend(api_finding);
    findings.extend(verification.findings());

    let (password_findings, containers) = password_findings(run).await?;
    findings.extend(password_findings);

    // Without a recovery there is a finding, so this message is not shown.
    let recovered_ms = recovered_after.map_or(0, |after| after.as_millis());
    let role = &run.deployment().app.role;
    let passed = format!(
        "after {role}'s VALID UNTIL passed, the app's open connections and a harness session \
         kept working, a new login was rejected ({INVALID_PASSWORD}), and once its sessions \
         ended the app reported 503 database_unreachable and logged the failed login; with the \
         expiry removed it was ready again after {recovered_ms} ms without a restart; {}; no \
         password in the Postgres log or the logs of {}",
        verification.summary(),
        app_containers(containers),
    );
    Ok((findings, passed))
}

/// Lets the expiry pass and verifies each consequence, adding findings, then removes the
/// expiry. Returns the time the app took to become ready again, or `None` with a finding when
/// it did not within the ready deadline.
async fn drill(
    run: &mut Run,
    steady: &SteadyLoad,
    expiry: Expiry,
    deadlines: Deadlines,
    findings: &mut Vec<String>,
) -> Result<Option<Duration>, String> {
    let deployment = run.deployment().clone();
    let app = deployment.app.clone();

    // A session opened before the expiry.
    let options = deployment
        .connect_options_to(&app, DATABASE)
        .disable_statement_logging();
    let mut session_before_expiry =
        PgConnection::connect_with(&options)
            .await
            .map_err(|error| {
                format!(
                    "opening a session as {} before the expiry failed: {}",
                    app.role,
                    redact(&deployment, &error.to_string())
                )
            })?;

    if expiry == Expiry::Passes {
        rotation::expire_after(&deployment, &app.role, EXPIRES_IN_SECONDS)
            .await
            .map_err(|error| error.to_string())?;
    }
    wait_for_expiry(&deployment, &app.role, deadlines.expiry, findings).await?;
    let expired_at = steady.elapsed();

    // Existing connections go on working.
    if let Err(error) = sqlx::query("SELECT 1")
        .execute(&mut session_before_expiry)
        .await
    {
        findings.push(format!(
            "a session of {} opened before the expiry failed after it: {}; VALID UNTIL must \
             not end open sessions",
            app.role,
            redact(&deployment, &error.to_string())
        ));
    }
    session_before_expiry.close().await.ok();
    steady
        .wait_for_acknowledged(expired_at)
        .await
        .map_err(|error| {
            format!(
                "the app's open connections stopped acknowledging writes after the expiry: {error}"
            )
        })?;

    // New connections fail.
    match login(&deployment, &app).await? {
        Some(code) if code == INVALID_PASSWORD => {}
        Some(code) => findings.push(format!(
            "a new login as {} after the expiry was rejected with SQLSTATE {code}, expected \
             {INVALID_PASSWORD}",
            app.role
        )),
        None => findings.push(format!(
            "a new login as {} after its VALID UNTIL passed still succeeded",
            app.role
        )),
    }

    // The app must log in again, and must report that it cannot.
    rotation::end_sessions(&deployment, &app.role)
        .await
        .map_err(|error| error.to_string())?;
    report_not_ready(run, deadlines.ready, findings).await?;

    // Remove the expiry: the app's pool logs in again without a restart.
    rotation::never_expire(&deployment, &app.role)
        .await
        .map_err(|error| error.to_string())?;
    // An app that stays not ready breaks the rule under test, so it is a finding, not an error.
    let recovered_after = match wait_until_ready(run, deadlines.ready).await {
        Ok(recovered_after) => recovered_after,
        Err(reason) => {
            findings.push(format!(
                "with the expiry removed, the app {reason}; its pool must log in again \
                 without a restart"
            ));
            return Ok(None);
        }
    };
    if let Some(finding) = crud_round_trip(&deployment, NAME).await? {
        findings.push(finding);
    }
    let healed_at = steady.elapsed();
    steady.wait_for_acknowledged(healed_at).await?;
    Ok(Some(recovered_after))
}

/// Waits until `role` can no longer log in, or adds a finding when it still can at the
/// deadline.
async fn wait_for_expiry(
    deployment: &harness::deployment::Deployment,
    role: &str,
    timeout: Duration,
    findings: &mut Vec<String>,
) -> Result<(), String> {
    let started = Instant::now();
    while rotation::can_log_in(deployment, role)
        .await
        .map_err(|error| error.to_string())?
    {
        if started.elapsed() >= timeout {
            findings.push(format!(
                "role {role} could still log in {timeout:?} after its VALID UNTIL was set \
                 {EXPIRES_IN_SECONDS} s ahead"
            ));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Polls `/readyz` until it returns 503 `database_unreachable`, then polls the app's log until
/// a line names the failed login, each for at most `timeout`.
async fn report_not_ready(
    run: &Run,
    timeout: Duration,
    findings: &mut Vec<String>,
) -> Result<(), String> {
    let app_url = &run.deployment().app_url;
    let started = Instant::now();
    let mut last = String::new();
    let reported = loop {
        match readiness(app_url).await {
            Ok((StatusCode::SERVICE_UNAVAILABLE, body))
                if body.contains("database_unreachable") =>
            {
                break true;
            }
            Ok((status, body)) => last = format!("{status} {body}"),
            Err(error) => last = error,
        }
        if started.elapsed() >= timeout {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if !reported {
        findings.push(format!(
            "after the role expired and its sessions ended, GET /readyz did not return 503 \
             database_unreachable within {timeout:?}; the last response was {last}"
        ));
        return Ok(());
    }

    // The readiness log line names the first failure after the app's sessions ended, which can
    // be a terminated pooled connection instead of the login, so any line counts: failed
    // requests log their database error too.
    let app = run.app().ok_or("the app container is not running")?;
    let started = Instant::now();
    loop {
        let log = logs::read_all(run.docker(), app.id(), app.name())
            .await
            .map_err(|error| format!("reading the app container's log failed: {error}"))?;
        let named = [&log.stdout, &log.stderr]
            .into_iter()
            .any(|output| String::from_utf8_lossy(output).contains(LOGIN_FAILED_TEXT));
        if named {
            break;
        }
        if started.elapsed() >= timeout {
            findings.push(format!(
                "the log of {} has no line that names the failed login ({LOGIN_FAILED_TEXT:?}) \
                 within {timeout:?} after the role expired",
                app.name()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
