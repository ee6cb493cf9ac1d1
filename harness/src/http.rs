//! The harness's HTTP client for the app. Every response it receives is recorded in the
//! deployment's [`ResponseLog`], so that the leak and error checks can scan what every other
//! check received.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::deployment::Deployment;

/// Timeout of one request, so that a hung app stops a check instead of blocking it. It exceeds
/// the longest wait a check provokes on purpose: a statement that runs into the app's
/// `LV_DB_STATEMENT_TIMEOUT_MS`, 5 s by default and 4 s in `errors.sanitized`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Header that carries the request id in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A request that failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client could not be built.
    #[error("building the HTTP client failed: {0}")]
    Client(reqwest::Error),
    /// The request was not sent or got no response.
    #[error("{method} {url} failed: {source}; check that the app container is running")]
    Send {
        /// Request method.
        method: Method,
        /// Full URL.
        url: String,
        /// The client error.
        source: reqwest::Error,
    },
    /// The response body could not be read.
    #[error("reading the response body of {method} {url} failed: {source}")]
    Body {
        /// Request method.
        method: Method,
        /// Full URL.
        url: String,
        /// The client error.
        source: reqwest::Error,
    },
}

/// One response as the harness received it. `Debug` leaves out the body, which may contain a
/// secret that leaked.
#[derive(Clone)]
pub struct RecordedResponse {
    /// Check that sent the request, such as `crud.smoke`.
    pub check: String,
    /// Request method.
    pub method: Method,
    /// Path and query as sent, such as `/v1/users?limit=100&offset=0`.
    pub path: String,
    /// Response status.
    pub status: StatusCode,
    /// `X-Request-Id` of the response.
    pub request_id: Option<String>,
    /// `Content-Type` of the response.
    pub content_type: Option<String>,
    /// Body, decoded as UTF-8 with invalid bytes replaced.
    pub body: String,
}

impl RecordedResponse {
    /// Describes the exchange for findings: `GET /v1/users/… (404, sent by crud.smoke)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} ({}, sent by {})",
            self.method,
            self.path,
            self.status.as_u16(),
            self.check
        )
    }

    /// Returns whether the status is 400 or above.
    pub fn is_error(&self) -> bool {
        self.status.is_client_error() || self.status.is_server_error()
    }
}

impl fmt::Debug for RecordedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedResponse")
            .field("check", &self.check)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Every response the harness's clients received during a run, shared by all clones.
#[derive(Clone, Default)]
pub struct ResponseLog(Arc<Mutex<Vec<Arc<RecordedResponse>>>>);

impl ResponseLog {
    /// Appends a response.
    pub fn record(&self, response: RecordedResponse) {
        self.lock().push(Arc::new(response));
    }

    /// Returns the responses recorded so far, in the order they arrived.
    pub fn responses(&self) -> Vec<Arc<RecordedResponse>> {
        self.lock().clone()
    }

    /// Returns the number of responses recorded so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<RecordedResponse>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for ResponseLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseLog({} responses)", self.len())
    }
}

/// A client for the app that sends the same headers on every request (such as `X-Actor`) and
/// records every response under the name of its check.
#[derive(Clone, Debug)]
pub struct AppClient {
    client: reqwest::Client,
    base_url: String,
    check: String,
    headers: Vec<(String, String)>,
    log: ResponseLog,
}

impl AppClient {
    /// Creates a client for the deployment's app that records into its response log as `check`.
    pub fn new(deployment: &Deployment, check: &str) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(HttpError::Client)?;
        Ok(Self {
            client,
            base_url: deployment.app_url.trim_end_matches('/').to_owned(),
            check: check.to_owned(),
            headers: Vec::new(),
            log: deployment.responses.clone(),
        })
    }

    /// Adds a header sent with every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts a request to `path` (with its query), relative to the app's base URL.
    pub fn request(&self, method: Method, path: &str) -> AppRequest<'_> {
        AppRequest {
            client: self,
            method,
            path: path.to_owned(),
            headers: self.headers.clone(),
            body: None,
        }
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<AppResponse, HttpError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await
    }
}

/// A request being built; [`AppRequest::send`] sends and records it.
pub struct AppRequest<'c> {
    client: &'c AppClient,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl AppRequest<'_> {
    /// Adds a header, replacing a default header of the same name.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.body(
            "application/json",
            serde_json::to_vec(body).expect("a JSON value always serializes"),
        )
    }

    /// Sets a raw body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self = self.header(CONTENT_TYPE.as_str(), content_type);
        self.body = Some(body.into());
        self
    }

    /// Sends the request, records the response and returns it.
    pub async fn send(self) -> Result<AppResponse, HttpError> {
        let url = format!("{}{}", self.client.base_url, self.path);
        let mut request = self.client.client.request(self.method.clone(), &url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }

        let response = request.send().await.map_err(|source| HttpError::Send {
            method: self.method.clone(),
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|source| HttpError::Body {
            method: self.method.clone(),
            url: url.clone(),
            source,
        })?;
        let body = String::from_utf8_lossy(&bytes).into_owned();

        let header_text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        self.client.log.record(RecordedResponse {
            check: self.client.check.clone(),
            method: self.method,
            path: self.path,
            status,
            request_id: header_text(REQUEST_ID_HEADER),
            content_type: header_text(CONTENT_TYPE.as_str()),
            body: body.clone(),
        });

        let json = serde_json::from_str(&body).ok();
        Ok(AppResponse {
            status,
            headers,
            body,
            json,
        })
    }
}

/// A response: status, headers and body as text and, when it parses, as JSON.
#[derive(Clone)]
pub struct AppResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body, decoded as UTF-8 with invalid bytes replaced.
    pub body: String,
    /// Body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl AppResponse {
    /// Returns the `X-Request-Id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.header(REQUEST_ID_HEADER)
    }

    /// Returns a header as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl fmt::Debug for AppResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}
