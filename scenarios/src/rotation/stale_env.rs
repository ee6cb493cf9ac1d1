//! Check `rotation.stale_env`: a rotation whose restart keeps the old password in the app's
//! environment, under steady load. The app must report not-ready (`/readyz` 503 with reason
//! `database_unreachable`), its error responses must stay sanitized, and no log line may show a
//! password. A restart with the right environment must then bring the service back, with no
//! acknowledged write lost.

use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::deployment::Credentials;
use harness::http::AppClient;
use harness::rotation;
use harness::run::Run;
use harness::secret::Secret;
use reqwest::{Method, StatusCode};

use super::{SteadyLoad, crud_round_trip, password_findings, readiness};
use crate::errors_sanitized::forbidden;
use crate::errors_sanitized::rules::{self, ErrorResponse};

/// Stable check name.
pub const NAME: &str = "rotation.stale_env";

/// How long `/readyz` is watched while the app runs with the stale password. Every response in
/// this span must be 503.
const STALE_OBSERVATION: Duration = Duration::from_secs(3);
/// Interval between readiness probes while watching.
const STALE_PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// The reason `/readyz` gives when the database rejects the login.
const EXPECTED_REASON: &str = "database_unreachable";

/// Runs the drill on a run whose app is started. The app runs with the new password
/// afterwards, and the deployment's app credentials are the new ones.
pub async fn run(run: &mut Run) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, "check started");

    let result = match check(run).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(run: &mut Run) -> Result<(Vec<String>, String), String> {
    let steady = SteadyLoad::start(run.deployment(), NAME).await?;
    let mut findings = Vec::new();
    let outcome = drill(run, &steady, &mut findings).await;
    let verification = steady.finish(run.deployment(), NAME).await;
    let (probes, errors) = outcome?;
    let verification = verification?;
    findings.extend(verification.findings());

    let (password_findings, app_containers) = password_findings(run).await?;
    findings.extend(password_findings);

    let passed = format!(
        "with the stale password the app answered {probes} readiness probes with 503 \
         {EXPECTED_REASON}, and its {errors} error responses were sanitized; restarted with the \
         new password it was ready and passed a CRUD round trip; {}; no password in the \
         Postgres log or the logs of {app_containers} app containers",
        verification.summary()
    );
    Ok((findings, passed))
}

/// Rotates, restarts with the stale environment, judges the stale app, and heals. Returns the
/// number of readiness probes and error responses judged.
async fn drill(
    run: &mut Run,
    steady: &SteadyLoad,
    findings: &mut Vec<String>,
) -> Result<(usize, usize), String> {
    let old = run.deployment().app.clone();
    let new = Credentials {
        role: old.role.clone(),
        password: Secret::generate(),
    };
    rotation::set_password(run.deployment(), &old.role, &new.password)
        .await
        .map_err(|error| error.to_string())?;
    run.set_app_credentials(new);
    tracing::info!(check = NAME, role = %old.role, "password rotated");

    // Restart with the old password: the environment was not updated.
    let environment = run.app_env().to_vec();
    let mut stale = environment.clone();
    stale.retain(|(key, _)| key != "DB_PASSWORD");
    stale.push(("DB_PASSWORD".to_owned(), old.password.expose().to_owned()));
    run.start_app_with_env_unready(stale)
        .await
        .map_err(|error| {
            format!("restarting the app with the stale environment failed: {error}")
        })?;
    steady.point_at(&run.deployment().app_url);

    let probes = watch_not_ready(&run.deployment().app_url, findings).await?;
    let errors = judge_errors(run, findings).await?;

    // Heal: the documented restart with the updated environment.
    run.start_app_with_env(environment)
        .await
        .map_err(|error| format!("restarting the app with the new password failed: {error}"))?;
    steady.point_at(&run.deployment().app_url);
    if let Some(finding) = crud_round_trip(run.deployment(), NAME).await? {
        findings.push(finding);
    }
    let healed_at = steady.elapsed();
    steady.wait_for_acknowledged(healed_at).await?;
    Ok((probes, errors))
}

/// Watches `/readyz` for [`STALE_OBSERVATION`]: each response must be 503 with reason
/// [`EXPECTED_REASON`]. Returns the number of probes.
async fn watch_not_ready(app_url: &str, findings: &mut Vec<String>) -> Result<usize, String> {
    let started = Instant::now();
    let mut probes = 0;
    let mut answered = 0;
    while started.elapsed() < STALE_OBSERVATION {
        probes += 1;
        match readiness(app_url).await {
            Ok((StatusCode::OK, body)) => {
                findings.push(format!(
                    "with the stale password GET /readyz returned 200 ({body}); it must return \
                     503 while the database rejects the app's login"
                ));
                return Ok(probes);
            }
            Ok((status, body)) => {
                answered += 1;
                let reason = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|json| json.get("reason")?.as_str().map(str::to_owned));
                if status != StatusCode::SERVICE_UNAVAILABLE
                    || reason.as_deref() != Some(EXPECTED_REASON)
                {
                    findings.push(format!(
                        "with the stale password GET /readyz returned {status} {body}; expected \
                         503 with reason {EXPECTED_REASON}"
                    ));
                    return Ok(probes);
                }
            }
            // The new container may not listen yet.
            Err(_) => {}
        }
        tokio::time::sleep(STALE_PROBE_INTERVAL).await;
    }
    if answered == 0 {
        return Err(format!(
            "the app started with the stale password answered no readiness probe within \
             {STALE_OBSERVATION:?}"
        ));
    }
    Ok(probes)
}

/// Sends two reads to the stale app, then judges every error response this check received,
/// the load's included, by the rules of errors.sanitized. Returns the number judged.
async fn judge_errors(run: &Run, findings: &mut Vec<String>) -> Result<usize, String> {
    let deployment = run.deployment();
    let client = AppClient::new(deployment, NAME).map_err(|error| error.to_string())?;
    for (method, path) in [
        (Method::GET, "/v1/videos?limit=1"),
        (
            Method::GET,
            "/v1/users/00000000-0000-4000-8000-000000000000",
        ),
    ] {
        client
            .send(method, path, None)
            .await
            .map_err(|error| error.to_string())?;
    }

    let forbidden = forbidden(run).await?;
    let mut judged = 0;
    for response in deployment.responses.responses() {
        if response.check != NAME || !response.is_error() || response.path.starts_with("/readyz") {
            continue;
        }
        judged += 1;
        let error_response = ErrorResponse {
            status: response.status,
            content_type: response.content_type.as_deref(),
            request_id: response.request_id.as_deref(),
            body: &response.body,
        };
        for violation in rules::check(&error_response, &forbidden) {
            findings.push(format!("{}: {violation}", response.describe()));
        }
    }
    if judged == 0 {
        return Err("the stale app returned no error response to judge".to_owned());
    }
    Ok(judged)
}
