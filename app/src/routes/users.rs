//! `/v1/users`: create, read, list, update and delete users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::Actor;
use crate::db::DbErrorKind;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{JsonBody, QueryParams, non_null, parse_path_id};
use crate::model::{NewUser, User, UserChanges};
use crate::pagination::{Page, PageRequest};
use crate::validation;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list).post(create))
        .route("/v1/users/{id}", get(read).patch(update).delete(remove))
}

// No `Debug` on request bodies that carry a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserRequest {
    email: String,
    display_name: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserRequest {
    #[serde(default, deserialize_with = "non_null")]
    email: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListUsersQuery {
    limit: Option<String>,
    offset: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateUserRequest>,
) -> Result<impl IntoResponse, ApiError> {
    validation::email(&body.email)?;
    validation::text(
        "display_name",
        &body.display_name,
        validation::DISPLAY_NAME_CHARS,
    )?;
    validation::password(&body.password)?;

    let password_hash = state.passwords.hash(body.password).await?;
    let new_user = NewUser {
        email: body.email,
        display_name: body.display_name,
        password_hash,
    };
    let user = state
        .db
        .create_user(&new_user, &actor)
        .await
        .map_err(email_conflict)?;

    let location = format!("/v1/users/{}", user.id);
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(user)))
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let id = parse_path_id(&id, "user")?;

    match state.db.get_user(id).await? {
        Some(user) => Ok(Json(user)),
        None => Err(ApiError::not_found("user")),
    }
}

async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListUsersQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse(query.limit.as_deref(), query.offset.as_deref())?;

    let (items, total) = state.db.list_users(page).await?;
    let page = Page {
        items,
        limit: page.limit,
        offset: page.offset,
        total,
    };
    #[cfg(feature = "failpoints")]
    if crate::faults::is_active(crate::faults::USER_LIST_NESTED_HASH) {
        return with_nested_hashes(&state, page).await;
    }
    Ok(Json(page).into_response())
}

/// Fail point `user.list.nested_hash`: adds `security.password_hash` to every item.
#[cfg(feature = "failpoints")]
async fn with_nested_hashes(state: &AppState, page: Page<User>) -> Result<Response, ApiError> {
    let mut body = serde_json::to_value(&page).map_err(ApiError::internal)?;
    let items = body["items"]
        .as_array_mut()
        .expect("a page has an items array");
    for (item, user) in items.iter_mut().zip(&page.items) {
        if let Some(record) = state.db.find_login(&user.email).await? {
            item["security"] = serde_json::json!({ "password_hash": record.password_hash });
        }
    }
    Ok(Json(body).into_response())
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    JsonBody(body): JsonBody<UpdateUserRequest>,
) -> Result<Json<User>, ApiError> {
    let id = parse_path_id(&id, "user")?;
    validation::some_change(
        body.email.is_some() || body.display_name.is_some() || body.password.is_some(),
    )?;
    if let Some(email) = &body.email {
        validation::email(email)?;
    }
    if let Some(display_name) = &body.display_name {
        validation::text("display_name", display_name, validation::DISPLAY_NAME_CHARS)?;
    }
    if let Some(password) = &body.password {
        validation::password(password)?;
    }

    let password_hash = match body.password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let changes = UserChanges {
        email: body.email,
        display_name: body.display_name,
        password_hash,
    };
    match state
        .db
        .update_user(id, &changes, &actor)
        .await
        .map_err(email_conflict)?
    {
        Some(user) => Ok(Json(user)),
        None => Err(ApiError::not_found("user")),
    }
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
) -> Result<StatusCode, ApiError> {
    let id = parse_path_id(&id, "user")?;

    let deleted = state.db.delete_user(id, &actor).await.map_err(|err| {
        // videos.owner_id is ON DELETE RESTRICT.
        if err.kind == DbErrorKind::ForeignKeyViolation {
            ApiError::new(
                ErrorCode::Conflict,
                "user still owns videos; delete those videos first",
            )
            .with_cause(err)
        } else {
            ApiError::from(err)
        }
    })?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("user"))
    }
}

/// Maps a unique violation to 409 with an email message, because the email
/// index is the only unique constraint on users.
fn email_conflict(err: crate::db::DbError) -> ApiError {
    if err.kind == DbErrorKind::UniqueViolation {
        ApiError::new(ErrorCode::Conflict, "a user with this email already exists").with_cause(err)
    } else {
        ApiError::from(err)
    }
}
