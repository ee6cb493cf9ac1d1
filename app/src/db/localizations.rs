//! The `localizations` table.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use uuid::Uuid;

use super::{Database, DbError, audit};
use crate::audit::{Action, Actor, AuditEntry, EntityType, entity_json};
use crate::model::{
    Localization, LocalizationChanges, LocalizationKind, LocalizationStatus, NewLocalization,
};
use crate::pagination::PageRequest;

/// Columns of a [`Localization`], as a literal for `concat!`.
macro_rules! localization_columns {
    () => {
        "id, video_id, target_language, kind, status, created_at, updated_at"
    };
}

impl FromRow<'_, PgRow> for Localization {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: row.try_get("id")?,
            video_id: row.try_get("video_id")?,
            target_language: row.try_get("target_language")?,
            kind: LocalizationKind::parse(&kind).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "kind".to_owned(),
                source: format!("unknown localization kind {kind:?}").into(),
            })?,
            status: LocalizationStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::ColumnDecode {
                    index: "status".to_owned(),
                    source: format!("unknown localization status {status:?}").into(),
                }
            })?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

fn audit_entry(
    actor: &Actor,
    action: Action,
    localization_id: Uuid,
    entity: Option<serde_json::Value>,
) -> AuditEntry<'_> {
    AuditEntry {
        actor,
        action,
        entity,
        entity_type: EntityType::Localization,
        entity_id: localization_id,
    }
}

impl Database {
    /// Inserts a localization and its audit entry. An unknown video fails
    /// with [`DbErrorKind::ForeignKeyViolation`](super::DbErrorKind), a
    /// second one for the same video, language and kind with
    /// [`DbErrorKind::UniqueViolation`](super::DbErrorKind).
    pub async fn create_localization(
        &self,
        localization: &NewLocalization,
        actor: &Actor,
    ) -> Result<Localization, DbError> {
        let mut tx = self.pool.begin().await?;

        let created: Localization = sqlx::query_as(concat!(
            "INSERT INTO localizations (video_id, target_language, kind, status) \
             VALUES ($1, $2, $3, $4) RETURNING ",
            localization_columns!()
        ))
        .bind(localization.video_id)
        .bind(&localization.target_language)
        .bind(localization.kind.as_str())
        .bind(localization.status.as_str())
        .fetch_one(&mut *tx)
        .await?;

        audit::insert(
            &mut tx,
            &audit_entry(actor, Action::Create, created.id, entity_json(&created)),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Fetches one localization.
    pub async fn get_localization(&self, id: Uuid) -> Result<Option<Localization>, DbError> {
        let localization = sqlx::query_as(concat!(
            "SELECT ",
            localization_columns!(),
            " FROM localizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(localization)
    }

    /// Lists a video's localizations in (created_at, id) order with their
    /// total, read in one snapshot; `None` when the video does not exist.
    pub async fn list_localizations(
        &self,
        video_id: Uuid,
        page: PageRequest,
    ) -> Result<Option<(Vec<Localization>, i64)>, DbError> {
        let mut tx = self.begin_read_snapshot().await?;

        let video_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM videos WHERE id = $1)")
                .bind(video_id)
                .fetch_one(&mut *tx)
                .await?;
        if !video_exists {
            return Ok(None);
        }

        let localizations = sqlx::query_as(concat!(
            "SELECT ",
            localization_columns!(),
            " FROM localizations WHERE video_id = $1 \
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(video_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM localizations WHERE video_id = $1")
                .bind(video_id)
                .fetch_one(&mut *tx)
                .await?;

        tx.commit().await?;
        Ok(Some((localizations, total)))
    }

    /// Applies the changes and writes the audit entry; `None` when the
    /// localization does not exist.
    pub async fn update_localization(
        &self,
        id: Uuid,
        changes: &LocalizationChanges,
        actor: &Actor,
    ) -> Result<Option<Localization>, DbError> {
        let mut tx = self.pool.begin().await?;

        let updated: Option<Localization> = sqlx::query_as(concat!(
            "UPDATE localizations SET \
                 target_language = COALESCE($2, target_language), \
                 kind = COALESCE($3, kind), \
                 status = COALESCE($4, status), \
                 updated_at = GREATEST(now(), created_at) \
             WHERE id = $1 RETURNING ",
            localization_columns!()
        ))
        .bind(id)
        .bind(&changes.target_language)
        .bind(changes.kind.map(LocalizationKind::as_str))
        .bind(changes.status.map(LocalizationStatus::as_str))
        .fetch_optional(&mut *tx)
        .await?;

        let Some(updated) = updated else {
            return Ok(None);
        };
        audit::insert(
            &mut tx,
            &audit_entry(actor, Action::Update, id, entity_json(&updated)),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(updated))
    }

    /// Deletes a localization and writes the audit entry; `false` when it
    /// does not exist.
    pub async fn delete_localization(&self, id: Uuid, actor: &Actor) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;

        let deleted = sqlx::query("DELETE FROM localizations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }

        audit::insert(&mut tx, &audit_entry(actor, Action::Delete, id, None)).await?;
        tx.commit().await?;
        Ok(true)
    }
}
