//! `POST /v1/login`: checks an email and password. Not a mutation, so it
//! writes no audit entry.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::extract::JsonBody;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/login", post(login))
}

// No `Debug`: it carries the password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    user_id: Uuid,
}

/// Unknown email and wrong password get the same 401, after the same
/// amount of hashing work.
async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    // Postgres text cannot hold NUL, so no stored email contains one.
    let record = if body.email.contains('\0') {
        None
    } else {
        state.db.find_login(&body.email).await?
    };

    let (user_id, stored_hash) = match record {
        Some(record) => (Some(record.user_id), Some(record.password_hash)),
        None => (None, None),
    };
    let matches = state.passwords.verify(body.password, stored_hash).await?;

    match user_id {
        Some(user_id) if matches => Ok(Json(LoginResponse { user_id })),
        _ => Err(ApiError::generic(ErrorCode::InvalidCredentials)),
    }
}
