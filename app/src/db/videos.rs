//! The `videos` table.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use uuid::Uuid;

use super::{Database, DbError, audit};
use crate::audit::{Action, Actor, AuditEntry, EntityType, entity_json};
use crate::model::{NewVideo, Video, VideoChanges, VideoStatus};
use crate::pagination::PageRequest;

/// Columns of a [`Video`], as a literal for `concat!`.
macro_rules! video_columns {
    () => {
        "id, owner_id, title, source_language, duration_seconds, status, created_at, updated_at"
    };
}

impl FromRow<'_, PgRow> for Video {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            title: row.try_get("title")?,
            source_language: row.try_get("source_language")?,
            duration_seconds: row.try_get("duration_seconds")?,
            status: VideoStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "status".to_owned(),
                source: format!("unknown video status {status:?}").into(),
            })?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

fn audit_entry(
    actor: &Actor,
    action: Action,
    video_id: Uuid,
    entity: Option<serde_json::Value>,
) -> AuditEntry<'_> {
    AuditEntry {
        actor,
        action,
        entity,
        entity_type: EntityType::Video,
        entity_id: video_id,
    }
}

impl Database {
    /// Inserts a video and its audit entry. An unknown owner fails with
    /// [`DbErrorKind::ForeignKeyViolation`](super::DbErrorKind).
    pub async fn create_video(&self, video: &NewVideo, actor: &Actor) -> Result<Video, DbError> {
        #[cfg(feature = "failpoints")]
        let started = std::time::Instant::now();
        let created = self.insert_video(video, actor).await?;
        #[cfg(feature = "failpoints")]
        if crate::faults::retries_slow_create(started.elapsed())
            && let Err(error) = self.insert_video(video, actor).await
        {
            tracing::warn!("retried insert of a slow video create failed: {error}");
        }
        Ok(created)
    }

    async fn insert_video(&self, video: &NewVideo, actor: &Actor) -> Result<Video, DbError> {
        let mut tx = self.pool.begin().await?;

        let created: Video = sqlx::query_as(concat!(
            "INSERT INTO videos (owner_id, title, source_language, duration_seconds, status) \
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            video_columns!()
        ))
        .bind(video.owner_id)
        .bind(&video.title)
        .bind(&video.source_language)
        .bind(video.duration_seconds)
        .bind(video.status.as_str())
        .fetch_one(&mut *tx)
        .await?;

        audit::insert(
            &mut tx,
            &audit_entry(actor, Action::Create, created.id, entity_json(&created)),
        )
        .await?;
        #[cfg(feature = "failpoints")]
        if crate::faults::is_active(crate::faults::VIDEO_CREATE_SLOW) {
            tokio::time::sleep(crate::faults::VIDEO_CREATE_SLOW_DELAY).await;
        }
        #[cfg(feature = "failpoints")]
        if crate::faults::is_active(crate::faults::VIDEO_CREATE_COMMIT_AFTER_RESPONSE) {
            crate::faults::commit_later(tx);
            return Ok(created);
        }
        tx.commit().await?;
        Ok(created)
    }

    /// Fetches one video.
    pub async fn get_video(&self, id: Uuid) -> Result<Option<Video>, DbError> {
        let video = sqlx::query_as(concat!(
            "SELECT ",
            video_columns!(),
            " FROM videos WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(video)
    }

    /// Lists videos in (created_at, id) order, all of them or one owner's,
    /// with the total count read in the same snapshot.
    pub async fn list_videos(
        &self,
        owner_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<(Vec<Video>, i64), DbError> {
        let mut tx = self.begin_read_snapshot().await?;

        // Two statements instead of "owner_id = $1 OR $1 IS NULL", so that
        // each gets a plan that uses its index.
        let (videos, total) = match owner_id {
            Some(owner_id) => {
                let videos = sqlx::query_as(concat!(
                    "SELECT ",
                    video_columns!(),
                    " FROM videos WHERE owner_id = $1 \
                     ORDER BY created_at, id LIMIT $2 OFFSET $3"
                ))
                .bind(owner_id)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut *tx)
                .await?;
                let total: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM videos WHERE owner_id = $1")
                        .bind(owner_id)
                        .fetch_one(&mut *tx)
                        .await?;
                (videos, total)
            }
            None => {
                let videos = sqlx::query_as(concat!(
                    "SELECT ",
                    video_columns!(),
                    " FROM videos ORDER BY created_at, id LIMIT $1 OFFSET $2"
                ))
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut *tx)
                .await?;
                let total: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
                    .fetch_one(&mut *tx)
                    .await?;
                (videos, total)
            }
        };

        tx.commit().await?;
        Ok((videos, total))
    }

    /// Applies the changes and writes the audit entry; `None` when the video
    /// does not exist.
    pub async fn update_video(
        &self,
        id: Uuid,
        changes: &VideoChanges,
        actor: &Actor,
    ) -> Result<Option<Video>, DbError> {
        let mut tx = self.pool.begin().await?;

        let updated: Option<Video> = sqlx::query_as(concat!(
            "UPDATE videos SET \
                 title = COALESCE($2, title), \
                 source_language = COALESCE($3, source_language), \
                 duration_seconds = COALESCE($4, duration_seconds), \
                 status = COALESCE($5, status), \
                 updated_at = GREATEST(now(), created_at) \
             WHERE id = $1 RETURNING ",
            video_columns!()
        ))
        .bind(id)
        .bind(&changes.title)
        .bind(&changes.source_language)
        .bind(changes.duration_seconds)
        .bind(changes.status.map(VideoStatus::as_str))
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

    /// Deletes a video, and with it its localizations (ON DELETE CASCADE),
    /// and writes one audit entry; `false` when the video does not exist.
    pub async fn delete_video(&self, id: Uuid, actor: &Actor) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;

        let deleted = sqlx::query("DELETE FROM videos WHERE id = $1")
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
