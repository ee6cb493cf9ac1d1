//! The system-under-test driver: resets the database, sends each call of a sequence to the
//! app, compares the response with the model's outcome, and checks the database invariants
//! after every call.
//!
//! It runs the sequences itself rather than through `StateMachineTest`, whose functions take no
//! context (the app's URL, the pools) and report failures by panicking. It keeps that trait's
//! contract with the strategy: the seen-transitions counter is increased before each call, so
//! that shrinking first drops the calls a failing case never reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use harness::http::{RecordedResponse, ResponseLog};
use harness::reset::TableReset;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use sqlx::PgPool;
use tokio::runtime::Handle;
use uuid::Uuid;

use super::calls::{Call, Ids, Kind};
use super::invariants::{self, ACTOR, Violation};
use super::model::State;
use super::responses::{self, KnownSlots, Response};

/// Deadline of one request. Calls take milliseconds; a request still running after this is
/// a hung app, and the case fails instead of blocking the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Failure of a case.
#[derive(Debug)]
pub enum CaseFailure {
    /// A call's response or the database after it differs from the model. `call` counts from 1.
    Finding {
        /// Position of the call in the sequence, from 1.
        call: usize,
        /// What differs.
        message: String,
    },
    /// The app or the database could not be reached, or the reset failed: no verdict.
    Infrastructure(String),
}

/// Drives the app of one database clone.
pub struct Driver {
    handle: Handle,
    client: reqwest::Client,
    base_url: String,
    auditor: PgPool,
    reset: TableReset,
    /// The run's response log, which the leak checks scan after this check.
    responses: ResponseLog,
    /// Time of every reset, for the report.
    pub reset_times: Vec<Duration>,
}

struct RealIds<'a>(&'a KnownSlots);

impl Ids for RealIds<'_> {
    fn slot_id(&self, kind: Kind, slot: usize) -> String {
        // A slot the app never created has no id; the nil UUID names nothing either.
        self.0.id(kind, slot).unwrap_or(Uuid::nil()).to_string()
    }
}

impl Driver {
    /// Creates a driver for the app at `base_url`, reading the database through `auditor` and
    /// resetting it through `reset`. Every response is appended to `responses`. `handle` runs
    /// the async work from the proptest thread.
    pub fn new(
        handle: Handle,
        base_url: &str,
        auditor: PgPool,
        reset: TableReset,
        responses: ResponseLog,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| format!("building the HTTP client failed: {error}"))?;
        Ok(Self {
            handle,
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            auditor,
            reset,
            responses,
            reset_times: Vec::new(),
        })
    }

    /// Returns the auditor pool.
    pub fn auditor(&self) -> &PgPool {
        &self.auditor
    }

    /// Returns the HTTP client and base URL.
    pub fn http(&self) -> (&reqwest::Client, &str) {
        (&self.client, &self.base_url)
    }

    /// Appends a response to the run's response log.
    pub fn record(
        &self,
        method: &reqwest::Method,
        path: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        self.responses.record(RecordedResponse {
            check: super::NAME.to_owned(),
            method: method.clone(),
            path: path.to_owned(),
            status: reqwest::StatusCode::from_u16(status)
                .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR),
            request_id: header("x-request-id"),
            content_type: header(CONTENT_TYPE.as_str()),
            body: body.to_owned(),
        });
    }

    /// Resets the database and records the time it took.
    pub async fn reset(&mut self) -> Result<(), CaseFailure> {
        let elapsed = self
            .reset
            .reset()
            .await
            .map_err(|error| CaseFailure::Infrastructure(error.to_string()))?;
        self.reset_times.push(elapsed);
        Ok(())
    }

    /// Runs one case: a reset, then every call with its checks. Blocks on the runtime.
    pub fn run_case(
        &mut self,
        initial: State,
        calls: &[Call],
        seen: Option<&AtomicUsize>,
    ) -> Result<(), CaseFailure> {
        let handle = self.handle.clone();
        handle.block_on(self.run_case_async(initial, calls, seen))
    }

    async fn run_case_async(
        &mut self,
        initial: State,
        calls: &[Call],
        seen: Option<&AtomicUsize>,
    ) -> Result<(), CaseFailure> {
        let outcome = self.run_calls(initial, calls, seen).await;
        let Err(CaseFailure::Finding { call, message }) = outcome else {
            return outcome;
        };
        // An app whose database stopped returns 500 or 503. That differs from the model but
        // breaks none of the app's rules, so a finding counts only while both are healthy.
        match self.probe().await {
            Ok(()) => Err(CaseFailure::Finding { call, message }),
            Err(reason) => Err(CaseFailure::Infrastructure(format!(
                "call {call} differed from the model ({message}), but then {reason}: no verdict"
            ))),
        }
    }

    /// Checks, after a finding, that the app is ready and the database accepts a query.
    async fn probe(&self) -> Result<(), String> {
        let url = format!("{}/readyz", self.base_url);
        match self.client.get(&url).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                return Err(format!("GET /readyz returned {}", response.status()));
            }
            Err(error) => return Err(format!("GET /readyz failed: {error}")),
        }
        sqlx::query("SELECT 1")
            .execute(&self.auditor)
            .await
            .map(|_| ())
            .map_err(|error| {
                format!(
                    "the database did not answer the auditor role: {}",
                    harness::redact::redact(&error.to_string())
                )
            })
    }

    async fn run_calls(
        &mut self,
        initial: State,
        calls: &[Call],
        seen: Option<&AtomicUsize>,
    ) -> Result<(), CaseFailure> {
        self.reset().await?;
        let mut known = KnownSlots::default();
        let mut state = initial;

        for (index, call) in calls.iter().enumerate() {
            if let Some(seen) = seen {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            let finding = |message: String| CaseFailure::Finding {
                call: index + 1,
                message,
            };

            let call = state.normalize(call);
            let request = call.request(&state, &RealIds(&known), false);
            state = state.apply(&call);
            let response = self.send(&request).await?;
            responses::check(&response, &state, &mut known).map_err(finding)?;

            match invariants::check(&self.auditor, &state, &known).await {
                Ok(()) => {}
                Err(Violation::Broken(message)) => {
                    return Err(finding(format!("database after the call: {message}")));
                }
                Err(Violation::Unreadable(error)) => {
                    return Err(CaseFailure::Infrastructure(format!(
                        "reading the database as the auditor role failed: {}",
                        harness::redact::redact(&error.to_string())
                    )));
                }
            }
        }
        Ok(())
    }

    async fn send(&self, request: &super::calls::HttpRequest) -> Result<Response, CaseFailure> {
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self
            .client
            .request(request.method.clone(), &url)
            .header("X-Actor", ACTOR);
        if let Some(content_type) = request.content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }

        let response = builder.send().await.map_err(|error| {
            CaseFailure::Infrastructure(format!(
                "{} {} failed: {error}; check that the app container is running",
                request.method, request.path
            ))
        })?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let request_id = header("x-request-id");
        let location = header(LOCATION.as_str());
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|error| {
            CaseFailure::Infrastructure(format!(
                "reading the response of {} {} failed: {error}",
                request.method, request.path
            ))
        })?;
        self.record(&request.method, &request.path, status, &headers, &body);
        Ok(Response {
            status,
            request_id,
            location,
            body,
        })
    }

    /// Closes the database connections.
    pub async fn close(self) {
        self.reset.close().await;
        self.auditor.close().await;
    }
}
