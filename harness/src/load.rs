//! The load generator: workers that create videos with unique titles through the app's HTTP
//! API and record each write's outcome in a [`Ledger`].
//!
//! It opens a new connection for every request (no keep-alive). A refused connect then proves
//! that the request was never sent, and a server that closes idle connections while it shuts
//! down cannot break a request sent on a reused one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::deployment::Deployment;
use crate::http::{AppClient, HttpError, REQUEST_ID_HEADER, RecordedResponse, ResponseLog};
use crate::ledger::{Attempt, Ledger, Outcome};

/// Settings of a load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Check that sends the writes; responses are recorded under this name.
    pub check: String,
    /// Concurrent workers, each with one request in flight at a time.
    pub workers: usize,
    /// Pause of a worker after each request, which keeps the load light on a small machine.
    pub pause: Duration,
    /// Timeout of one request. A write that runs into it is indeterminate.
    pub request_timeout: Duration,
}

impl LoadOptions {
    /// Default settings for `check`: 2 workers, 20 ms pause, 5 s request timeout. The timeout
    /// exceeds the app's default statement timeout (5 s) only slightly, so that a frozen
    /// database shows up as indeterminate writes instead of stalling the workers for long.
    pub fn new(check: &str) -> Self {
        Self {
            check: check.to_owned(),
            workers: 2,
            pause: Duration::from_millis(20),
            request_timeout: Duration::from_secs(6),
        }
    }
}

/// The app's base URL, shared with the workers, so that a check that replaces the app
/// container can point the running load at the new published port.
#[derive(Clone, Debug)]
pub struct LoadTarget(Arc<RwLock<String>>);

impl LoadTarget {
    /// Creates a target at `app_url`, such as `http://127.0.0.1:49153`.
    pub fn new(app_url: &str) -> Self {
        Self(Arc::new(RwLock::new(
            app_url.trim_end_matches('/').to_owned(),
        )))
    }

    /// Points the load at another base URL.
    pub fn set_url(&self, app_url: &str) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            app_url.trim_end_matches('/').to_owned();
    }

    /// Returns the current base URL.
    pub fn url(&self) -> String {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Creating the owner of the load's videos failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The request failed.
    #[error("creating the owner of the load's videos failed: {0}")]
    Http(#[from] HttpError),
    /// The app did not return 201 with an id.
    #[error("creating the owner of the load's videos: POST /v1/users returned {0}, expected 201")]
    Status(StatusCode),
    /// The HTTP client could not be built.
    #[error("building the load's HTTP client failed: {0}")]
    Client(reqwest::Error),
}

/// Creates the user that owns every video of a load, through the API.
pub async fn create_owner(deployment: &Deployment, check: &str) -> Result<Uuid, LoadError> {
    let client = AppClient::new(deployment, check)?;
    let suffix = Uuid::new_v4().simple().to_string();
    let body = json!({
        "email": format!("ledger-{suffix}@example.test"),
        "display_name": "Ledger owner",
        "password": format!("ledger-{suffix}"),
    });
    let response = client.send(Method::POST, "/v1/users", Some(&body)).await?;
    let id = response
        .json
        .as_ref()
        .and_then(|json| json.get("id")?.as_str())
        .and_then(|id| Uuid::parse_str(id).ok());
    match (response.status, id) {
        (StatusCode::CREATED, Some(id)) => Ok(id),
        (status, _) => Err(LoadError::Status(status)),
    }
}

/// A running load. Stop it with [`Load::stop`], which returns the ledger.
pub struct Load {
    ledger: Ledger,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    prefix: String,
}

impl Load {
    /// Starts `options.workers` workers that create videos of `owner` at `target`, each with a
    /// unique title `<prefix>-<sequence>`, record each outcome in `ledger`, and record each
    /// response in `responses` under `options.check`.
    pub fn start(
        target: LoadTarget,
        owner: Uuid,
        ledger: Ledger,
        responses: ResponseLog,
        options: LoadOptions,
    ) -> Result<Self, LoadError> {
        let client = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .pool_max_idle_per_host(0)
            .build()
            .map_err(LoadError::Client)?;
        let prefix = format!("ledger-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let (stop, stopped) = watch::channel(false);
        let worker = Arc::new(Worker {
            client,
            target,
            owner,
            ledger: ledger.clone(),
            responses,
            check: options.check.clone(),
            prefix: prefix.clone(),
            sequence: AtomicU64::new(0),
        });

        let mut workers = Vec::new();
        for _ in 0..options.workers.max(1) {
            let worker = Arc::clone(&worker);
            let mut stopped = stopped.clone();
            let pause = options.pause;
            workers.push(tokio::spawn(async move {
                while !*stopped.borrow() {
                    worker.write_once().await;
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.changed() => {}
                    }
                }
            }));
        }
        tracing::info!(check = %options.check, %prefix, workers = workers.len(), "load started");
        Ok(Self {
            ledger,
            stop,
            workers,
            prefix,
        })
    }

    /// Returns the ledger the load records into.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Returns the title prefix of this load's writes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Stops the workers after their requests in flight end (each within the request timeout)
    /// and returns the ledger.
    pub async fn stop(self) -> Ledger {
        let _ = self.stop.send(true);
        for worker in self.workers {
            if let Err(error) = worker.await {
                tracing::error!(%error, "a load worker panicked");
            }
        }
        let attempts = self.ledger.attempts().len();
        tracing::info!(prefix = %self.prefix, attempts, "load stopped");
        self.ledger
    }
}

struct Worker {
    client: reqwest::Client,
    target: LoadTarget,
    owner: Uuid,
    ledger: Ledger,
    responses: ResponseLog,
    check: String,
    prefix: String,
    sequence: AtomicU64,
}

impl Worker {
    async fn write_once(&self) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let key = format!("{}-{sequence:06}", self.prefix);
        let body = json!({
            "owner_id": self.owner,
            "title": key,
            "source_language": "en",
            "duration_seconds": 1,
        });
        let url = format!("{}/v1/videos", self.target.url());

        let sent = self.ledger.elapsed();
        let started = Instant::now();
        let result = self
            .client
            .post(&url)
            .header("X-Actor", &self.check)
            .header(REQUEST_ID_HEADER, &key)
            .json(&body)
            .send()
            .await;
        let attempt = match result {
            Ok(response) => self.receive(key, sent, response).await,
            Err(error) => Attempt {
                key,
                outcome: Outcome::from_send_error(&error),
                sent,
                finished: sent + started.elapsed(),
                status: None,
                resource_id: None,
                detail: Some(error.to_string()),
            },
        };
        self.ledger.record(attempt);
    }

    /// Reads the response, records it in the response log and classifies it. A body that
    /// cannot be read leaves a 2xx write acknowledged, because the status alone acknowledges
    /// it.
    async fn receive(&self, key: String, sent: Duration, response: reqwest::Response) -> Attempt {
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => format!("(reading the body failed: {error})"),
        };
        let finished = self.ledger.elapsed();
        let header_text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        self.responses.record(RecordedResponse {
            check: self.check.clone(),
            method: Method::POST,
            path: "/v1/videos".to_owned(),
            status,
            request_id: header_text(REQUEST_ID_HEADER),
            content_type: header_text(CONTENT_TYPE.as_str()),
            body: body.clone(),
        });

        let json: Option<Value> = serde_json::from_str(&body).ok();
        let resource_id = json
            .as_ref()
            .and_then(|json| json.get("id")?.as_str())
            .map(str::to_owned);
        let error_code = json
            .as_ref()
            .and_then(|json| json.pointer("/error/code")?.as_str())
            .map(str::to_owned);
        Attempt {
            key,
            outcome: Outcome::from_status(status.as_u16()),
            sent,
            finished,
            status: Some(status.as_u16()),
            resource_id,
            detail: error_code,
        }
    }
}
