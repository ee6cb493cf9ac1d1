//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::error::FinalBody;
use crate::readiness::Readiness;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Always 200 while the process serves HTTP; never touches the database.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    schema_version: i64,
}

#[derive(Serialize)]
struct NotReadyBody {
    status: &'static str,
    reason: &'static str,
}

/// 200 with the schema version, or 503 with the reason only.
async fn readyz(State(state): State<AppState>) -> Response {
    let mut response = match state.readiness.check().await {
        Readiness::Ready { schema_version } => {
            let body = ReadyBody {
                status: "ready",
                schema_version,
            };
            (StatusCode::OK, Json(body)).into_response()
        }
        Readiness::NotReady { reason, .. } => {
            let body = NotReadyBody {
                status: "not_ready",
                reason: reason.as_str(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    };
    // The 503 body is this document, not the error body.
    response.extensions_mut().insert(FinalBody);
    response
}
