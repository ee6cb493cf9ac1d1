//! The router: every route, the fallbacks and the layers around them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

use crate::db::Database;
use crate::error::{ApiError, ErrorCode};
use crate::password::Passwords;
use crate::readiness::ReadinessProbe;
use crate::request_id;
use crate::routes;

/// Largest request body accepted, in bytes; larger ones get 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub passwords: Arc<Passwords>,
    pub readiness: Arc<ReadinessProbe>,
}

/// Builds the router with all routes and layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::routes())
        .merge(routes::users::routes())
        .merge(routes::login::routes())
        .merge(routes::videos::routes())
        .merge(routes::localizations::routes())
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

async fn unknown_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}
