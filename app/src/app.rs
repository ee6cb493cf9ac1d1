//! The router: every route, the fallbacks and the layers around them.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::db::Database;
use crate::error::{ApiError, ErrorCode};
use crate::password::Passwords;
use crate::readiness::ReadinessProbe;
use crate::request_id;
use crate::routes;

/// Largest request body accepted, in bytes; larger ones get 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Shared state of the handlers: the database, the password hasher and the
/// readiness probe.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub passwords: Arc<Passwords>,
    pub readiness: Arc<ReadinessProbe>,
}

/// Builds the router with all routes and layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(routes::health::routes())
        .merge(routes::users::routes())
        .merge(routes::login::routes())
        .merge(routes::videos::routes())
        .merge(routes::localizations::routes());
    with_layers(routes).with_state(state)
}

/// Adds the fallback for unknown paths and the layers that every request
/// passes: request id and error bodies (outermost), panic capture, body limit.
fn with_layers(routes: Router<AppState>) -> Router<AppState> {
    routes
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_id::middleware))
}

/// Turns a panic in a handler into `500 internal`; the request id middleware
/// around it adds the body, and this log line carries the request's span.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic payload is not a string");
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

async fn unknown_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

#[cfg(test)]
mod tests {
    //! Requests that the router handles before any database call: routing,
    //! body parsing and field rules. The pool points at a closed port and is
    //! never used by these cases.

    use std::time::Duration;

    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::config::{Argon2Config, DatabaseConfig, PoolConfig};

    fn test_state() -> AppState {
        let database = DatabaseConfig::Parts {
            host: "127.0.0.1".to_owned(),
            port: 9,
            name: "unused".to_owned(),
            user: "unused".to_owned(),
            password: None,
        };
        let pool = PoolConfig {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(100),
            statement_timeout: Duration::from_millis(100),
        };
        let db = Database::connect_lazy(&database, &pool).expect("pool config is valid");
        let passwords = Passwords::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .expect("argon2 config is valid");
        AppState {
            readiness: Arc::new(ReadinessProbe::new(db.clone())),
            db,
            passwords: Arc::new(passwords),
        }
    }

    async fn send(request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        send_to(router(test_state()), request).await
    }

    async fn send_to(
        router: Router,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = router.oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), BODY_LIMIT_BYTES)
            .await
            .expect("body should be readable");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, json)
    }

    fn json_request(method: &str, uri: &str, body: impl Into<Body>) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(body.into())
            .expect("request should build")
    }

    fn empty_request(method: &str, uri: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request should build")
    }

    #[tokio::test]
    async fn healthz_is_ok() {
        let (status, _, body) = send(empty_request("GET", "/healthz")).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, serde_json::json!({"status": "ok"}));
    }

    #[tokio::test]
    async fn error_carries_request_id() {
        let (status, headers, body) = send(empty_request("GET", "/v1/nothing")).await;

        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        let header = headers["x-request-id"].to_str().expect("ASCII header");
        assert_eq!(body["error"]["request_id"], header);
    }

    #[tokio::test]
    async fn client_request_id_adopted() {
        let mut request = empty_request("GET", "/healthz");
        request
            .headers_mut()
            .insert("x-request-id", "client-id-1".parse().unwrap());

        let (_, headers, _) = send(request).await;

        assert_eq!(headers["x-request-id"], "client-id-1");
    }

    #[tokio::test]
    async fn panic_is_500_in_error_shape() {
        async fn boom() -> &'static str {
            panic!("test panic");
        }
        let routes = Router::new().route("/boom", axum::routing::get(boom));
        let router = with_layers(routes).with_state(test_state());

        let (status, headers, body) = send_to(router, empty_request("GET", "/boom")).await;

        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(
            body["error"]["request_id"],
            headers["x-request-id"].to_str().unwrap()
        );
    }

    #[tokio::test]
    async fn wrong_method_is_405() {
        let (status, headers, body) = send(empty_request("PUT", "/v1/users")).await;

        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert!(
            headers.contains_key("allow"),
            "405 should keep the Allow header"
        );
    }

    #[tokio::test]
    async fn missing_content_type_is_415() {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/users")
            .body(Body::from("{}"))
            .unwrap();

        let (status, _, body) = send(request).await;

        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }

    #[tokio::test]
    async fn malformed_json_is_400() {
        let (status, _, body) = send(json_request("POST", "/v1/login", "{\"email\":")).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "malformed_json");
    }

    #[tokio::test]
    async fn unknown_field_is_400() {
        let request = json_request(
            "POST",
            "/v1/login",
            r#"{"email":"a@b","password":"12345678","remember":true}"#,
        );

        let (status, _, body) = send(request).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_request");
    }

    #[tokio::test]
    async fn large_body_is_413() {
        let body = format!(r#"{{"email":"{}"}}"#, "a".repeat(BODY_LIMIT_BYTES));

        let (status, _, json) = send(json_request("POST", "/v1/login", body)).await;

        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json["error"]["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn field_rule_is_422() {
        let request = json_request(
            "POST",
            "/v1/videos",
            r#"{"owner_id":"6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11","title":"",
                "source_language":"en","duration_seconds":5}"#,
        );

        let (status, _, body) = send(request).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "validation_failed");
    }

    #[tokio::test]
    async fn bad_limit_is_422() {
        let (status, _, body) = send(empty_request("GET", "/v1/users?limit=0")).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "validation_failed");
    }

    #[tokio::test]
    async fn malformed_path_id_is_404() {
        let (status, _, body) = send(empty_request("GET", "/v1/videos/not-a-uuid")).await;

        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }

    #[tokio::test]
    async fn long_actor_is_400() {
        let mut request =
            empty_request("DELETE", "/v1/videos/6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11");
        request
            .headers_mut()
            .insert("x-actor", "a".repeat(101).parse().unwrap());

        let (status, _, body) = send(request).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_request");
    }
}
