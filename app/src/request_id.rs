//! Request ids: one per request, in the `X-Request-Id` response header, in
//! every error body and in every log line written while the request runs.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error;

/// Request and response header that carries the id.
pub const HEADER: &str = "x-request-id";

/// Maximum length of a client-sent id that the app adopts.
const MAX_LEN: usize = 128;

/// Assigns the request id, runs the request inside a span that carries it,
/// renders error bodies and logs the outcome.
///
/// A client-sent `X-Request-Id` of 1 to 128 characters from `[A-Za-z0-9._:-]`
/// is adopted, so that callers can correlate it with their own logs. Any
/// other value is replaced by a new UUID.
pub async fn middleware(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_acceptable(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();

    let response = next.run(request).instrument(span.clone()).await;
    let mut response = error::render(response, &request_id);

    let header_value =
        HeaderValue::from_str(&request_id).expect("request ids contain only visible ASCII");
    response.headers_mut().insert(HEADER, header_value);

    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| tracing::info!(status, latency_ms, "request finished"));

    response
}

fn is_acceptable(value: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    (1..=MAX_LEN).contains(&value.len()) && value.chars().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_filter() {
        let cases = [
            ("abc-123", true),
            ("trace:span.1_x", true),
            ("", false),
            ("has space", false),
            ("quote\"", false),
            ("é", false),
        ];
        for (value, expected) in cases {
            assert_eq!(is_acceptable(value), expected, "{value:?}");
        }
        assert!(
            is_acceptable(&"a".repeat(128)),
            "128 characters should be adopted"
        );
        assert!(
            !is_acceptable(&"a".repeat(129)),
            "129 characters should be replaced"
        );
    }
}
