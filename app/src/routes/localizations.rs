//! Localizations: created and listed under their video
//! (`/v1/videos/{video_id}/localizations`), read, updated and deleted at
//! `/v1/localizations/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::Actor;
use crate::db::{DbError, DbErrorKind};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{JsonBody, QueryParams, non_null, parse_path_id};
use crate::model::{
    Localization, LocalizationChanges, LocalizationKind, LocalizationStatus, NewLocalization,
};
use crate::pagination::{Page, PageRequest};
use crate::validation;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/videos/{video_id}/localizations",
            get(list).post(create),
        )
        .route(
            "/v1/localizations/{id}",
            get(read).patch(update).delete(remove),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLocalizationRequest {
    target_language: String,
    kind: String,
    #[serde(default, deserialize_with = "non_null")]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateLocalizationRequest {
    #[serde(default, deserialize_with = "non_null")]
    target_language: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListLocalizationsQuery {
    limit: Option<String>,
    offset: Option<String>,
}

fn parse_kind(value: &str) -> Result<LocalizationKind, ApiError> {
    validation::one_of(
        "kind",
        value,
        LocalizationKind::parse,
        LocalizationKind::VALUES,
    )
}

fn parse_status(value: &str) -> Result<LocalizationStatus, ApiError> {
    validation::one_of(
        "status",
        value,
        LocalizationStatus::parse,
        LocalizationStatus::VALUES,
    )
}

/// Maps a unique violation to 409: the video already has a localization with
/// this target language and kind.
fn duplicate_conflict(err: DbError) -> ApiError {
    if err.kind == DbErrorKind::UniqueViolation {
        ApiError::new(
            ErrorCode::Conflict,
            "this video already has a localization with this target_language and kind",
        )
        .with_cause(err)
    } else {
        ApiError::from(err)
    }
}

async fn create(
    State(state): State<AppState>,
    Path(video_id): Path<String>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateLocalizationRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let video_id = parse_path_id(&video_id, "video")?;
    let target_language = validation::language_tag("target_language", &body.target_language)?;
    let kind = parse_kind(&body.kind)?;
    let status = match &body.status {
        Some(status) => parse_status(status)?,
        None => LocalizationStatus::Pending,
    };
    let new_localization = NewLocalization {
        video_id,
        target_language,
        kind,
        status,
    };

    let localization = state
        .db
        .create_localization(&new_localization, &actor)
        .await
        .map_err(|err| {
            // The video is named by the path, so a missing one is 404.
            if err.kind == DbErrorKind::ForeignKeyViolation {
                ApiError::not_found("video").with_cause(err)
            } else {
                duplicate_conflict(err)
            }
        })?;

    let location = format!("/v1/localizations/{}", localization.id);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        Json(localization),
    ))
}

async fn list(
    State(state): State<AppState>,
    Path(video_id): Path<String>,
    QueryParams(query): QueryParams<ListLocalizationsQuery>,
) -> Result<Json<Page<Localization>>, ApiError> {
    let video_id = parse_path_id(&video_id, "video")?;
    let page = PageRequest::parse(query.limit.as_deref(), query.offset.as_deref())?;

    let Some((items, total)) = state.db.list_localizations(video_id, page).await? else {
        return Err(ApiError::not_found("video"));
    };
    Ok(Json(Page {
        items,
        limit: page.limit,
        offset: page.offset,
        total,
    }))
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Localization>, ApiError> {
    let id = parse_path_id(&id, "localization")?;

    match state.db.get_localization(id).await? {
        Some(localization) => Ok(Json(localization)),
        None => Err(ApiError::not_found("localization")),
    }
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    JsonBody(body): JsonBody<UpdateLocalizationRequest>,
) -> Result<Json<Localization>, ApiError> {
    let id = parse_path_id(&id, "localization")?;
    validation::some_change(
        body.target_language.is_some() || body.kind.is_some() || body.status.is_some(),
    )?;

    let mut changes = LocalizationChanges::default();
    if let Some(target_language) = &body.target_language {
        changes.target_language = Some(validation::language_tag(
            "target_language",
            target_language,
        )?);
    }
    if let Some(kind) = &body.kind {
        changes.kind = Some(parse_kind(kind)?);
    }
    if let Some(status) = &body.status {
        changes.status = Some(parse_status(status)?);
    }

    match state
        .db
        .update_localization(id, &changes, &actor)
        .await
        .map_err(duplicate_conflict)?
    {
        Some(localization) => Ok(Json(localization)),
        None => Err(ApiError::not_found("localization")),
    }
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
) -> Result<StatusCode, ApiError> {
    let id = parse_path_id(&id, "localization")?;

    if state.db.delete_localization(id, &actor).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("localization"))
    }
}
