//! Check `errors.sanitized`: every error response has the documented shape and nothing from the
//! database, the driver or the server's internals.
//!
//! It sends a catalogue of requests, one per class of error (constraint violations, invalid
//! input, server-side faults, protocol errors), to an app restarted with small pool and timeout
//! limits, and judges each response against the rule in [`rules`] and against the committed
//! snapshot of the class's public shape (`snapshots/error_<class>.snap`). Every other error
//! response that any check of the run received is judged against the rule too.

mod catalogue;
mod faults;
pub(crate) mod rules;
mod shape;

use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::Deployment;
use harness::http::{AppClient, AppResponse};
use harness::run::Run;
use harness::scan::{Scanner, credential_formats, password_hash_formats};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

pub use catalogue::{ErrorClass, Group};
pub use shape::snapshot_name;

use crate::redact::redact;
use catalogue::{Body, Request, Setup};
use faults::TableLock;
use rules::{ErrorResponse, Forbidden};

/// Stable check name.
pub const NAME: &str = "errors.sanitized";

/// Names of tables, views, indexes, sequences, constraints and columns in schema `public`, each
/// with whether it is a table or column name.
const CATALOG_NAMES: &str = "\
    SELECT c.relname::text, c.relkind IN ('r', 'p', 'v', 'm') \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = 'public' \
    UNION \
    SELECT co.conname::text, false \
    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace \
    WHERE n.nspname = 'public' \
    UNION \
    SELECT a.attname::text, true \
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') \
      AND a.attnum > 0 AND NOT a.attisdropped";

/// One catalogue request and the response it got.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Error class the request provokes.
    pub class: ErrorClass,
    /// Method sent.
    pub method: Method,
    /// Path sent.
    pub path: String,
    /// `X-Request-Id` sent, which the app adopts.
    pub sent_request_id: String,
    /// Response status.
    pub status: StatusCode,
    /// `Content-Type` of the response.
    pub content_type: Option<String>,
    /// `Allow` of the response.
    pub allow: Option<String>,
    /// `X-Request-Id` of the response.
    pub request_id: Option<String>,
    /// Response body.
    pub body: String,
    /// For a server fault: why the app's log does not show that the fault failed the request.
    pub fault_problem: Option<String>,
}

impl Observation {
    /// Renders the public shape, as the snapshots store it.
    pub fn shape(&self) -> String {
        shape::render(&shape::ShapeParts {
            status: self.status.as_u16(),
            content_type: self.content_type.as_deref(),
            allow: self.allow.as_deref(),
            request_id: self.request_id.as_deref(),
            body: &self.body,
        })
    }

    fn describe(&self) -> String {
        format!("{} {} [{}]", self.method, self.path, self.class)
    }

    fn error_response(&self) -> ErrorResponse<'_> {
        ErrorResponse {
            status: self.status,
            content_type: self.content_type.as_deref(),
            request_id: self.request_id.as_deref(),
            body: &self.body,
        }
    }
}

/// Runs the check. The app is restarted twice (with small limits, then with its usual
/// settings) and Postgres once; the run's deployment has the new ports afterwards.
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
    let observations = observe(run).await?;
    let forbidden = forbidden(run).await?;

    let mut findings = Vec::new();
    for observation in &observations {
        findings.extend(judge_observation(observation, &forbidden));
    }

    // Every other error response of the run, from this check or any other.
    let catalogue_ids: Vec<&str> = observations
        .iter()
        .map(|observation| observation.sent_request_id.as_str())
        .collect();
    let mut others = 0;
    for response in run.deployment().responses.responses() {
        // /readyz's 503 has its own documented body.
        let readiness = response.path.starts_with("/readyz");
        let in_catalogue = response
            .request_id
            .as_deref()
            .is_some_and(|id| catalogue_ids.contains(&id));
        if !response.is_error() || readiness || in_catalogue {
            continue;
        }
        others += 1;
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

    let passed = format!(
        "{} error classes and {others} other error responses have the documented shape and no \
         database, driver or server detail; each class matches its snapshot",
        observations.len()
    );
    Ok((findings, passed))
}

/// Judges one catalogue response: the expected status and code, the rule, the fault's cause in
/// the app log, and the snapshot.
fn judge_observation(observation: &Observation, forbidden: &Forbidden) -> Vec<String> {
    let mut findings = Vec::new();
    let describe = observation.describe();

    let (status, code) = observation.class.expected();
    let seen_code = serde_json::from_str::<serde_json::Value>(&observation.body)
        .ok()
        .and_then(|body| body.pointer("/error/code")?.as_str().map(str::to_owned));
    if observation.status.as_u16() != status || seen_code.as_deref() != Some(code) {
        findings.push(format!(
            "{describe}: expected {status} {code}, got {} {}",
            observation.status.as_u16(),
            seen_code.as_deref().unwrap_or("(no error code)")
        ));
    }
    for violation in rules::check(&observation.error_response(), forbidden) {
        findings.push(format!("{describe}: {violation}"));
    }
    if let Some(problem) = &observation.fault_problem {
        findings.push(format!("{describe}: {problem}"));
    }
    if let Some(difference) = shape::compare_with_snapshot(observation.class, &observation.shape())
    {
        findings.push(format!("{describe}: {difference}"));
    }
    findings
}

/// Restarts the app with [`faults::FAULT_APP_ENV`], sends the catalogue, and restarts the app
/// with its previous settings. Returns one observation per class, in catalogue order.
pub async fn observe(run: &mut Run) -> Result<Vec<Observation>, String> {
    let previous_env = run.app_env().to_vec();
    let mut fault_env = previous_env.clone();
    for (key, value) in faults::FAULT_APP_ENV {
        fault_env.retain(|(existing, _)| existing != key);
        fault_env.push((key.to_owned(), value.to_owned()));
    }
    let observed = match run.start_app_with_env(fault_env).await {
        Ok(()) => send_catalogue(run).await,
        Err(error) => Err(format!(
            "restarting the app with small pool limits failed: {error}"
        )),
    };

    // The usual settings come back even after a failure, for the checks that follow.
    let restored = run.start_app_with_env(previous_env).await;
    let observations = observed?;
    restored.map_err(|error| format!("restarting the app with its settings failed: {error}"))?;
    Ok(observations)
}

async fn send_catalogue(run: &mut Run) -> Result<Vec<Observation>, String> {
    let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let client = AppClient::new(run.deployment(), NAME)
        .map_err(|error| error.to_string())?
        .with_header("X-Actor", &format!("{NAME}-{suffix}"));
    let sender = Sender {
        client,
        suffix: suffix.clone(),
    };

    let existing_email = format!("errors-{suffix}@example.test");
    let user_id = sender.create_user(&existing_email).await?;
    let setup = Setup {
        suffix,
        existing_email,
        unknown_id: Uuid::new_v4().to_string(),
    };

    let mut observations = Vec::new();
    for class in ErrorClass::ALL {
        let request = catalogue::request(class, &setup);
        let deployment = run.deployment().clone();
        let observation = match class {
            ErrorClass::StatementTimeout => {
                let lock = TableLock::acquire(&deployment).await?;
                let observed = sender.send(class, &request).await;
                lock.release().await;
                observed?
            }
            ErrorClass::PoolExhausted => {
                let blocking = catalogue::request(ErrorClass::StatementTimeout, &setup);
                exhaust_pool(&deployment, &sender, &blocking, class, &request).await?
            }
            ErrorClass::DatabaseUnreachable => {
                faults::with_database_stopped(run, async || sender.send(class, &request).await)
                    .await??
            }
            _ => sender.send(class, &request).await?,
        };
        observations.push(observation);
    }

    // The app's log shows whether each fault is what failed its request.
    let app_logs = run
        .app_logs()
        .await
        .map_err(|error| format!("reading the app container log failed: {error}"))?;
    let stdout = app_logs
        .last()
        .map(|logs| logs.stdout.as_slice())
        .unwrap_or_default();
    for observation in &mut observations {
        if observation.class.group() == Group::ServerFault {
            observation.fault_problem =
                faults::missing_cause(observation.class, &observation.sent_request_id, stdout);
        }
    }

    sender.delete_user(user_id).await;
    Ok(observations)
}

/// Holds every pool connection with statements that wait for a table lock, then sends
/// `request`, which can only fail for want of a connection.
async fn exhaust_pool(
    deployment: &Deployment,
    sender: &Sender,
    blocking: &Request,
    class: ErrorClass,
    request: &Request,
) -> Result<Observation, String> {
    let lock = TableLock::acquire(deployment).await?;
    let blockers = send_blockers(sender, blocking);
    let probe = async {
        let observed = match faults::wait_for_lock_waiters(deployment, faults::POOL_SIZE).await {
            Ok(()) => sender.send(class, request).await,
            Err(problem) => Err(problem),
        };
        lock.release().await;
        observed
    };
    let (blocked, observed) = tokio::join!(blockers, probe);
    let observed = observed?;

    // A blocked statement that reached its statement timeout before the probe ended freed its
    // connection. A probe that succeeded after that proves nothing about the app.
    let mut timed_out = 0;
    for result in &blocked {
        match result {
            Ok(response) if response.status == StatusCode::SERVICE_UNAVAILABLE => timed_out += 1,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(check = NAME, %error, "a request that held a pool connection failed");
            }
        }
    }
    if observed.status != StatusCode::SERVICE_UNAVAILABLE && timed_out > 0 {
        return Err(format!(
            "{timed_out} of the statements that held the pool reached their statement timeout \
             before the probe ended, so the pool was not exhausted; the machine was too slow for \
             the 1 s acquire timeout and 4 s statement timeout this check gives the app"
        ));
    }
    Ok(observed)
}

/// Sends `request` twice at once, one per pool connection ([`faults::POOL_SIZE`]), each with
/// its own request id.
async fn send_blockers(sender: &Sender, request: &Request) -> Vec<Result<AppResponse, String>> {
    let first_id = format!("{NAME}-blocker-1-{}", sender.suffix);
    let second_id = format!("{NAME}-blocker-2-{}", sender.suffix);
    let (first, second) = tokio::join!(
        sender.send_raw(request, &first_id),
        sender.send_raw(request, &second_id)
    );
    vec![first, second]
}

/// The check's client and the suffix of its request ids.
struct Sender {
    client: AppClient,
    suffix: String,
}

impl Sender {
    async fn send(&self, class: ErrorClass, request: &Request) -> Result<Observation, String> {
        let sent_request_id = format!("{NAME}-{}-{}", class.id(), self.suffix);
        let response = self.send_raw(request, &sent_request_id).await?;
        let header = |name: &str| response.header(name).map(str::to_owned);
        Ok(Observation {
            class,
            method: request.method.clone(),
            path: request.path.clone(),
            sent_request_id,
            status: response.status,
            content_type: header("content-type"),
            allow: header("allow"),
            request_id: header("x-request-id"),
            body: response.body,
            fault_problem: None,
        })
    }

    async fn send_raw(&self, request: &Request, request_id: &str) -> Result<AppResponse, String> {
        let mut builder = self
            .client
            .request(request.method.clone(), &request.path)
            .header("X-Request-Id", request_id);
        builder = match &request.body {
            Body::None => builder,
            Body::Json(body) => builder.json(body),
            Body::Raw {
                content_type,
                bytes,
            } => builder.body(content_type, bytes.clone()),
        };
        builder.send().await.map_err(|error| error.to_string())
    }

    async fn create_user(&self, email: &str) -> Result<Uuid, String> {
        let body = json!({
            "email": email,
            "display_name": "Errors catalogue",
            "password": "catalogue-password",
        });
        let response = self
            .client
            .send(Method::POST, "/v1/users", Some(&body))
            .await
            .map_err(|error| error.to_string())?;
        let id = response
            .json
            .as_ref()
            .and_then(|json| json.get("id")?.as_str())
            .and_then(|id| Uuid::parse_str(id).ok());
        match (response.status, id) {
            (StatusCode::CREATED, Some(id)) => Ok(id),
            (status, _) => Err(format!(
                "creating the user whose email the unique violation repeats returned {status}, \
                 expected 201"
            )),
        }
    }

    async fn delete_user(&self, id: Uuid) {
        let path = format!("/v1/users/{id}");
        match self.client.send(Method::DELETE, &path, None).await {
            Ok(response) if response.status == StatusCode::NO_CONTENT => {}
            Ok(response) => {
                tracing::warn!(check = NAME, %path, status = %response.status, "clean-up delete failed");
            }
            Err(error) => tracing::warn!(check = NAME, %path, %error, "clean-up delete failed"),
        }
    }
}

/// Collects what no error body may contain: catalog names read as the auditor role, the
/// database's container name, addresses and ports, role names, and the run's secrets.
pub(crate) async fn forbidden(run: &Run) -> Result<Forbidden, String> {
    let deployment = run.deployment();
    let pool = deployment
        .pool(&deployment.auditor)
        .await
        .map_err(|error| {
            format!(
                "connecting to Postgres as the auditor role failed: {}",
                redact(deployment, &error.to_string())
            )
        })?;
    let names: Result<Vec<(String, bool)>, sqlx::Error> =
        sqlx::query_as(CATALOG_NAMES).fetch_all(&pool).await;
    pool.close().await;
    let names = names.map_err(|error| format!("reading the catalog failed: {error}"))?;
    let (identifiers, relations) = Forbidden::split_catalog_names(&names);

    let postgres = run
        .postgres()
        .ok_or("the Postgres container is not running")?;
    let mut hosts = vec![postgres.name().to_owned()];
    let inspected = run
        .docker()
        .inspect_container(postgres.id(), None)
        .await
        .map_err(|error| format!("inspecting container {} failed: {error}", postgres.name()))?;
    let networks = inspected
        .network_settings
        .and_then(|settings| settings.networks)
        .unwrap_or_default();
    for endpoint in networks.values() {
        if let Some(address) = endpoint
            .ip_address
            .as_ref()
            .filter(|address| !address.is_empty())
        {
            hosts.push(address.clone());
        }
    }

    let roles = [
        &deployment.superuser,
        &deployment.migrator,
        &deployment.app,
        &deployment.auditor,
    ]
    .iter()
    .map(|credentials| credentials.role.clone())
    .collect();

    let mut formats = credential_formats();
    formats.extend(password_hash_formats());
    let secrets = Scanner::new(crate::leaks_credentials::canaries(deployment), formats)
        .map_err(|error| format!("building the scanner failed: {error}"))?;

    Ok(Forbidden {
        identifiers,
        relations,
        hosts,
        ports: vec![harness::postgres::PORT, deployment.postgres_port],
        roles,
        secrets,
    })
}
