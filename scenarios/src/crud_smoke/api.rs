//! The HTTP side: requests to the app through the harness's recording client, and the parts of
//! each response the checks read.

use harness::deployment::Deployment;
use harness::http::AppClient;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::NAME;
use super::findings::{Findings, Step, Stop};

/// Client for the app's HTTP API, sending one `X-Actor` on every request. Every response is
/// recorded in the deployment's response log, where the leak checks scan it.
pub struct Api {
    client: AppClient,
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
    /// Creates a client for the deployment's app that acts as `actor`.
    pub fn new(deployment: &Deployment, actor: &str) -> Result<Self, Stop> {
        let client = AppClient::new(deployment, NAME)
            .map_err(|error| Stop::Error(error.to_string()))?
            .with_header("X-Actor", actor);
        Ok(Self { client })
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn send(
        &self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Stop> {
        let response = self
            .client
            .send(method, path, body)
            .await
            .map_err(|error| Stop::Error(format!("{step}: {error}")))?;
        Ok(Reply {
            status: response.status,
            request_id: response.request_id().map(str::to_owned),
            body: response.body,
            json: response.json,
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
