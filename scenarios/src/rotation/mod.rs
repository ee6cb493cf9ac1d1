//! Credential-rotation drills. Each runs a rotation procedure under steady load recorded by the
//! acknowledged-write ledger (see [`harness::ledger`]), and checks afterwards that no
//! acknowledged write was lost. The pieces they share: the load, readiness polling, a CRUD
//! round trip, login attempts and the scan for passwords in the logs.

pub mod alternating_users;
pub mod deadlines;
pub mod expiry;
pub mod stale_env;
pub mod update_env;

use std::time::{Duration, Instant};

use harness::deployment::{Credentials, DATABASE, Deployment};
use harness::http::AppClient;
use harness::ledger::{Ledger, Verification};
use harness::load::{self, Load, LoadOptions, LoadTarget};
use harness::run::Run;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

use crate::leak_scan::{scan_container_logs, summarize};
use crate::leaks_credentials;
use crate::redact::redact;

pub use deadlines::Deadlines;

/// Acknowledged writes the load must have before and after each step, so that the drill runs
/// under load and the load survives the step.
const ACKNOWLEDGED_PER_PHASE: usize = 10;
/// Deadline for [`ACKNOWLEDGED_PER_PHASE`] writes. A healthy load acknowledges tens of writes a
/// second (165 in 3.7 s in one drill on a 2-core machine), so only a stuck load reaches it.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Interval between readiness probes.
const READY_PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Deadline of one readiness request.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// SQLSTATE invalid_password, which a login with a wrong password gets.
pub const INVALID_PASSWORD: &str = "28P01";
/// SQLSTATE invalid_authorization_specification, which a login of a role without LOGIN gets.
pub const INVALID_AUTHORIZATION: &str = "28000";

/// Steady load on the app: a ledger of uniquely titled video creates.
pub struct SteadyLoad {
    owner: Uuid,
    target: LoadTarget,
    load: Load,
}

impl SteadyLoad {
    /// Creates the owner of the load's videos, starts the load and waits until it has
    /// acknowledged writes.
    pub async fn start(deployment: &Deployment, check: &str) -> Result<Self, String> {
        let owner = load::create_owner(deployment, check)
            .await
            .map_err(|error| error.to_string())?;
        let target = LoadTarget::new(&deployment.app_url);
        let load = Load::start(
            target.clone(),
            owner,
            Ledger::new(),
            deployment.responses.clone(),
            LoadOptions::new(check),
        )
        .map_err(|error| error.to_string())?;
        let steady = Self {
            owner,
            target,
            load,
        };
        steady.wait_for_acknowledged(Duration::ZERO).await?;
        Ok(steady)
    }

    /// Returns the time since the load started.
    pub fn elapsed(&self) -> Duration {
        self.load.ledger().elapsed()
    }

    /// Points the load at the app's new URL after a restart.
    pub fn point_at(&self, app_url: &str) {
        self.target.set_url(app_url);
    }

    /// Waits until writes sent after `since` (load time) have been acknowledged
    /// [`ACKNOWLEDGED_PER_PHASE`] times.
    pub async fn wait_for_acknowledged(&self, since: Duration) -> Result<(), String> {
        let deadline = Instant::now() + PHASE_TIMEOUT;
        loop {
            let acknowledged = self
                .load
                .ledger()
                .attempts()
                .iter()
                .filter(|attempt| attempt.sent >= since && !attempt.is_unavailable())
                .count();
            if acknowledged >= ACKNOWLEDGED_PER_PHASE {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the load had {acknowledged} acknowledged writes after {} ms within \
                     {PHASE_TIMEOUT:?}, expected {ACKNOWLEDGED_PER_PHASE}",
                    since.as_millis()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the load and reads every write back from the database, then through the app. A
    /// failed read through the app is returned as a finding, not an error, because the
    /// database still gives the verdict. It suits a check where an app that did not recover is
    /// already a finding.
    pub async fn finish_database_first(
        self,
        deployment: &Deployment,
        check: &str,
    ) -> Result<(Verification, Option<String>), String> {
        let ledger = self.load.stop().await;
        let attempts = ledger.attempts();
        let database = harness::ledger::read_database(deployment, self.owner)
            .await
            .map_err(|error| format!("reading the load's writes back failed: {error}"))?;
        let mut verification = Verification::from_database(&attempts, &database);
        match harness::ledger::read_api(deployment, check, self.owner).await {
            Ok(api) => {
                verification.api = Some(harness::ledger::compare(&attempts, &api));
                Ok((verification, None))
            }
            Err(error) => Ok((
                verification,
                Some(format!("{error}; the app must serve reads again")),
            )),
        }
    }

    /// Stops the load and reads every write back through the app and from the database.
    pub async fn finish(
        self,
        deployment: &Deployment,
        check: &str,
    ) -> Result<Verification, String> {
        let ledger = self.load.stop().await;
        Verification::read_back(deployment, check, &ledger, self.owner)
            .await
            .map_err(|error| format!("reading the load's writes back failed: {error}"))
    }
}

/// Returns the status and body of `GET /readyz`, or the error text.
pub async fn readiness(app_url: &str) -> Result<(StatusCode, String), String> {
    let client = reqwest::Client::builder()
        .timeout(READY_PROBE_TIMEOUT)
        .build()
        .map_err(|error| format!("building the HTTP client failed: {error}"))?;
    let response = client
        .get(format!("{app_url}/readyz"))
        .send()
        .await
        .map_err(|error| {
            // reqwest's own text hides the cause, such as a timeout or a refused connection.
            format!(
                "GET /readyz failed: {}",
                harness::docker::error_chain(&error)
            )
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Ok((status, body.trim().to_owned()))
}

/// Polls `GET /readyz` of the run's app until it returns 200, at most `timeout`, and returns the
/// time it took. A stopped app container cannot become ready, so the wait ends as soon as the
/// container has stopped. The error is a clause that follows "the app", such as "was not ready
/// within 30s (...)" or "container lv-app-... exited with code 137 ...".
pub async fn wait_until_ready(run: &Run, timeout: Duration) -> Result<Duration, String> {
    let app_url = &run.deployment().app_url;
    let started = Instant::now();
    loop {
        let last = match readiness(app_url).await {
            Ok((StatusCode::OK, _)) => return Ok(started.elapsed()),
            Ok((status, body)) => format!("{status} {body}"),
            Err(error) => error,
        };
        if let Some(stopped) = stopped_reason(run, &last).await {
            return Err(stopped);
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "was not ready within {timeout:?} (the last GET /readyz returned {last})"
            ));
        }
        tokio::time::sleep(READY_PROBE_INTERVAL).await;
    }
}

/// Describes how the run's app container stopped, or returns `None` while it runs.
async fn stopped_reason(run: &Run, last: &str) -> Option<String> {
    let app = run.app()?;
    let last_error = format!("the last GET /readyz returned {last}");
    let stopped =
        harness::docker::stopped_before_ready(run.docker(), app.name(), app.id(), last_error)
            .await?;
    match stopped {
        harness::error::Error::StoppedBeforeReady {
            container,
            id,
            reason,
            last_error,
            ..
        } => Some(format!(
            "container {container} ({id}) {reason} before it became ready; {last_error}"
        )),
        other => Some(redact(run.deployment(), &other.to_string())),
    }
}

/// Creates, reads, updates and deletes a user through the app. Returns a finding for the first
/// step that did not return its documented status.
pub async fn crud_round_trip(
    deployment: &Deployment,
    check: &str,
) -> Result<Option<String>, String> {
    let client = AppClient::new(deployment, check).map_err(|error| error.to_string())?;
    let suffix = Uuid::new_v4().simple().to_string();
    let body = json!({
        "email": format!("rotation-{suffix}@example.test"),
        "display_name": "Rotation drill",
        "password": format!("rotation-{suffix}"),
    });
    let created = client
        .send(Method::POST, "/v1/users", Some(&body))
        .await
        .map_err(|error| error.to_string())?;
    let id = created
        .json
        .as_ref()
        .and_then(|json| json.get("id")?.as_str())
        .map(str::to_owned);
    let Some(id) = id.filter(|_| created.status == StatusCode::CREATED) else {
        return Ok(Some(format!(
            "CRUD round trip: POST /v1/users returned {}, expected 201 with an id",
            created.status
        )));
    };

    let path = format!("/v1/users/{id}");
    let update = json!({"display_name": "Rotation drill, renamed"});
    let steps = [
        (Method::GET, None, StatusCode::OK),
        (Method::PATCH, Some(&update), StatusCode::OK),
        (Method::DELETE, None, StatusCode::NO_CONTENT),
        (Method::GET, None, StatusCode::NOT_FOUND),
    ];
    for (method, body, expected) in steps {
        let response = client
            .send(method.clone(), &path, body)
            .await
            .map_err(|error| error.to_string())?;
        if response.status != expected {
            return Ok(Some(format!(
                "CRUD round trip: {method} /v1/users/{{id}} returned {}, expected {expected}",
                response.status
            )));
        }
    }
    Ok(None)
}

/// Logs in as `credentials` from the harness. Returns `None` when the login succeeded, or the
/// SQLSTATE the server rejected it with.
pub async fn login(
    deployment: &Deployment,
    credentials: &Credentials,
) -> Result<Option<String>, String> {
    let options = deployment
        .connect_options_to(credentials, DATABASE)
        .disable_statement_logging();
    match PgConnection::connect_with(&options).await {
        Ok(connection) => {
            connection.close().await.ok();
            Ok(None)
        }
        Err(sqlx::Error::Database(error)) => {
            Ok(Some(error.code().unwrap_or_default().into_owned()))
        }
        Err(error) => Err(format!(
            "logging in as {} failed before the server answered: {}",
            credentials.role,
            redact(deployment, &error.to_string())
        )),
    }
}

/// Scans the Postgres log and the logs of every app container of the run for the run's
/// passwords (retired ones included), connection strings with a password and SCRAM
/// verifiers. Returns the findings and the number of app containers scanned.
pub async fn password_findings(run: &Run) -> Result<(Vec<String>, usize), String> {
    let scanner = leaks_credentials::scanner(run.deployment())?;
    let app_logs = run
        .app_logs()
        .await
        .map_err(|error| format!("reading the app container logs failed: {error}"))?;
    let postgres_logs = run
        .postgres_logs()
        .await
        .map_err(|error| format!("reading the Postgres server log failed: {error}"))?;
    let mut findings = scan_container_logs(&scanner, &app_logs);
    findings.extend(scan_container_logs(&scanner, &[postgres_logs]));
    Ok((summarize(findings), app_logs.len()))
}
