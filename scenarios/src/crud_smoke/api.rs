//! The HTTP side: requests to the app and the parts of each response the
//! checks read.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::findings::{Findings, Step, Stop};

/// Timeout of one request, so that a hung app stops the check instead of blocking
/// it. It is far above the latency seen here: all 22 requests of a run took
/// under 0.6 s against a debug build with 64 KiB of argon2 memory.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Response header that carries the request id.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// Client for the app's HTTP API, sending one `X-Actor` on every request.
pub struct Api {
    client: reqwest::Client,
    base_url: String,
    actor: String,
}

/// A response: status, request id header, and body as text and JSON.
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Value of `X-Request-Id`, when present.
    pub request_id: Option<String>,
    /// Body as received.
    pub body: String,
    /// Body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl Api {
    /// Creates a client for the app at `base_url` that acts as `actor`.
    pub fn new(base_url: &str, actor: &str) -> Result<Self, Stop> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| Stop::Error(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            actor: actor.to_owned(),
        })
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn send(
        &self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Stop> {
        let url = format!("{}{path}", self.base_url);
        let mut request = self
            .client
            .request(method, &url)
            .header("X-Actor", &self.actor);
        if let Some(body) = body {
            request = request.json(body);
        }

        let response = request.send().await.map_err(|error| {
            Stop::Error(format!(
                "{step}: request to {url} failed: {error}; check that the app is running"
            ))
        })?;
        let status = response.status();
        let request_id = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|error| {
            Stop::Error(format!(
                "{step}: reading the response from {url} failed: {error}"
            ))
        })?;
        let json = serde_json::from_str(&body).ok();

        Ok(Reply {
            status,
            request_id,
            body,
            json,
        })
    }
}

impl Reply {
    /// Returns the JSON body when the status is `expected`, and otherwise
    /// stops the run with a finding that shows the status and error code.
    pub fn expect_json(&self, step: Step, expected: StatusCode) -> Result<&Value, Stop> {
        if self.status != expected {
            return Err(Stop::Finding(format!(
                "{step}: status {}, expected {expected}{}",
                self.status,
                self.error_code_suffix()
            )));
        }
        self.json.as_ref().ok_or_else(|| {
            Stop::Finding(format!(
                "{step}: status {expected} but the body is not JSON"
            ))
        })
    }

    /// Checks that the status is `expected` and that the body is the contract's
    /// error object with `code` and a request id equal to the `X-Request-Id` header.
    pub fn check_error(
        &self,
        step: Step,
        expected: StatusCode,
        code: &str,
        findings: &mut Findings,
    ) {
        if self.status != expected {
            findings.push(
                step,
                format!(
                    "status {}, expected {expected}{}",
                    self.status,
                    self.error_code_suffix()
                ),
            );
            return;
        }

        let error = self.json.as_ref().and_then(|json| json.get("error"));
        let Some(error) = error else {
            findings.push(
                step,
                "error body is not {\"error\": {...}} as the contract requires",
            );
            return;
        };
        let seen_code = error.get("code").and_then(Value::as_str);
        if seen_code != Some(code) {
            findings.push(
                step,
                format!("field `error.code`: response {seen_code:?}, expected {code:?}"),
            );
        }
        if !error.get("message").is_some_and(Value::is_string) {
            findings.push(
                step,
                "field `error.message`: response has no message string",
            );
        }
        let body_request_id = error.get("request_id").and_then(Value::as_str);
        if body_request_id.is_none() || body_request_id != self.request_id.as_deref() {
            findings.push(
                step,
                format!(
                    "field `error.request_id`: response {body_request_id:?}, \
                     X-Request-Id header {:?}",
                    self.request_id
                ),
            );
        }
    }

    /// Checks that the response carries an `X-Request-Id` header.
    pub fn check_request_id(&self, step: Step, findings: &mut Findings) {
        if self.request_id.as_deref().is_none_or(str::is_empty) {
            findings.push(step, "response has no X-Request-Id header");
        }
    }

    /// ` (error code "x")` when the body is an error object, else nothing.
    fn error_code_suffix(&self) -> String {
        let code = self
            .json
            .as_ref()
            .and_then(|json| json.pointer("/error/code"))
            .and_then(Value::as_str);
        match code {
            Some(code) => format!(" (error code {code:?})"),
            None => String::new(),
        }
    }
}
