//! The three resources as the database stores them and as responses show them,
//! both turned into [`Fields`] in one canonical text form so they compare.
//!
//! Canonical forms: a UUID in lowercase hyphenated form, text as a JSON string
//! literal, an integer in decimal, and a timestamp as RFC 3339 in UTC with as
//! many fraction digits as it needs. Two timestamp forms are therefore equal
//! exactly when the instants are equal.

use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::findings::Fields;

/// Type of a field in JSON, which selects its parser.
#[derive(Clone, Copy, Debug)]
pub enum FieldKind {
    /// A UUID string.
    Uuid,
    /// A string.
    Text,
    /// An integer number.
    Integer,
    /// An RFC 3339 timestamp in UTC.
    Timestamp,
}

/// Fields of a user object.
pub const USER_FIELDS: &[(&str, FieldKind)] = &[
    ("id", FieldKind::Uuid),
    ("email", FieldKind::Text),
    ("display_name", FieldKind::Text),
    ("created_at", FieldKind::Timestamp),
    ("updated_at", FieldKind::Timestamp),
];

/// Fields of a video object.
pub const VIDEO_FIELDS: &[(&str, FieldKind)] = &[
    ("id", FieldKind::Uuid),
    ("owner_id", FieldKind::Uuid),
    ("title", FieldKind::Text),
    ("source_language", FieldKind::Text),
    ("duration_seconds", FieldKind::Integer),
    ("status", FieldKind::Text),
    ("created_at", FieldKind::Timestamp),
    ("updated_at", FieldKind::Timestamp),
];

/// Fields of a localization object.
pub const LOCALIZATION_FIELDS: &[(&str, FieldKind)] = &[
    ("id", FieldKind::Uuid),
    ("video_id", FieldKind::Uuid),
    ("target_language", FieldKind::Text),
    ("kind", FieldKind::Text),
    ("status", FieldKind::Text),
    ("created_at", FieldKind::Timestamp),
    ("updated_at", FieldKind::Timestamp),
];

/// Canonical form of text.
pub fn text(value: &str) -> String {
    Value::String(value.to_owned()).to_string()
}

/// Canonical form of a timestamp.
pub fn timestamp(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A resource table row that the check reads by id and compares with a response.
pub trait Record: Sized + Send {
    /// Table name, for findings.
    const TABLE: &'static str;
    /// `entity_type` of the resource's audit_log rows.
    const ENTITY_TYPE: &'static str;
    /// Fields of the resource's JSON object.
    const FIELDS: &'static [(&'static str, FieldKind)];

    /// Reads the row with `id`, or `None` when no row has it.
    fn fetch(
        pool: &PgPool,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Self>, sqlx::Error>> + Send;

    /// Canonical fields, comparable with [`fields_from_json`] of a response.
    fn fields(&self) -> Fields;
}

/// Reads `specs` from a JSON object into canonical fields.
pub fn fields_from_json(object: &Value, specs: &[(&'static str, FieldKind)]) -> Fields {
    specs
        .iter()
        .map(|(name, kind)| {
            let value = match object.get(name) {
                None => Err("missing".to_owned()),
                Some(value) => parse_json_field(value, *kind),
            };
            (*name, value)
        })
        .collect()
}

fn parse_json_field(value: &Value, kind: FieldKind) -> Result<String, String> {
    match kind {
        FieldKind::Integer => value
            .as_i64()
            .map(|number| number.to_string())
            .ok_or_else(|| format!("not an integer: {value}")),
        FieldKind::Text => value
            .as_str()
            .map(text)
            .ok_or_else(|| format!("not a string: {value}")),
        FieldKind::Uuid => value
            .as_str()
            .and_then(|text| Uuid::parse_str(text).ok())
            .map(|uuid| uuid.to_string())
            .ok_or_else(|| format!("not a UUID: {value}")),
        FieldKind::Timestamp => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("not a string: {value}"))?;
            let parsed = DateTime::parse_from_rfc3339(text)
                .map_err(|_| format!("not an RFC 3339 timestamp: {value}"))?;
            if parsed.offset().local_minus_utc() != 0 {
                return Err(format!("not in UTC: {value}"));
            }
            Ok(timestamp(parsed.with_timezone(&Utc)))
        }
    }
}

/// A `users` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// The argon2id PHC string. Never printed: findings write "hash present" instead.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Record for UserRow {
    const TABLE: &'static str = "users";
    const ENTITY_TYPE: &'static str = "user";
    const FIELDS: &'static [(&'static str, FieldKind)] = USER_FIELDS;

    /// Reads the user `id`, or `None` when no row has it.
    async fn fetch(pool: &PgPool, id: Uuid) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, email, display_name, password_hash, created_at, updated_at
             FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    }

    /// Canonical fields. The hash is left out because no response may show it.
    fn fields(&self) -> Fields {
        Fields::from([
            ("id", Ok(self.id.to_string())),
            ("email", Ok(text(&self.email))),
            ("display_name", Ok(text(&self.display_name))),
            ("created_at", Ok(timestamp(self.created_at))),
            ("updated_at", Ok(timestamp(self.updated_at))),
        ])
    }
}

/// A `videos` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VideoRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub source_language: String,
    pub duration_seconds: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Record for VideoRow {
    const TABLE: &'static str = "videos";
    const ENTITY_TYPE: &'static str = "video";
    const FIELDS: &'static [(&'static str, FieldKind)] = VIDEO_FIELDS;

    /// Reads the video `id`, or `None` when no row has it.
    async fn fetch(pool: &PgPool, id: Uuid) -> Result<Option<Self>, sqlx::Error> {
        // The casts keep the reads working if a migration widens a column or
        // turns a text column into an enum.
        sqlx::query_as(
            "SELECT id, owner_id, title::text AS title, source_language::text AS source_language,
                    duration_seconds::bigint AS duration_seconds, status::text AS status,
                    created_at, updated_at
             FROM videos WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    }

    /// Canonical fields.
    fn fields(&self) -> Fields {
        Fields::from([
            ("id", Ok(self.id.to_string())),
            ("owner_id", Ok(self.owner_id.to_string())),
            ("title", Ok(text(&self.title))),
            ("source_language", Ok(text(&self.source_language))),
            ("duration_seconds", Ok(self.duration_seconds.to_string())),
            ("status", Ok(text(&self.status))),
            ("created_at", Ok(timestamp(self.created_at))),
            ("updated_at", Ok(timestamp(self.updated_at))),
        ])
    }
}

/// A `localizations` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LocalizationRow {
    pub id: Uuid,
    pub video_id: Uuid,
    pub target_language: String,
    pub kind: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Record for LocalizationRow {
    const TABLE: &'static str = "localizations";
    const ENTITY_TYPE: &'static str = "localization";
    const FIELDS: &'static [(&'static str, FieldKind)] = LOCALIZATION_FIELDS;

    /// Reads the localization `id`, or `None` when no row has it.
    async fn fetch(pool: &PgPool, id: Uuid) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, video_id, target_language::text AS target_language, kind::text AS kind,
                    status::text AS status, created_at, updated_at
             FROM localizations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
    }

    /// Canonical fields.
    fn fields(&self) -> Fields {
        Fields::from([
            ("id", Ok(self.id.to_string())),
            ("video_id", Ok(self.video_id.to_string())),
            ("target_language", Ok(text(&self.target_language))),
            ("kind", Ok(text(&self.kind))),
            ("status", Ok(text(&self.status))),
            ("created_at", Ok(timestamp(self.created_at))),
            ("updated_at", Ok(timestamp(self.updated_at))),
        ])
    }
}

/// Counts all users.
pub async fn count_users(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok(count)
}

/// Counts the videos of `owner_id`.
pub async fn count_videos_of(pool: &PgPool, owner_id: Uuid) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM videos WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(pool)
        .await?;
    Ok(count)
}

/// Counts the localizations of `video_id`.
pub async fn count_localizations_of(pool: &PgPool, video_id: Uuid) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM localizations WHERE video_id = $1")
        .bind(video_id)
        .fetch_one(pool)
        .await?;
    Ok(count)
}

/// An `audit_log` row, without its time.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
}

impl AuditRow {
    /// Reads the rows written for `actor` after row `after_id`, in order.
    pub async fn fetch_after(
        pool: &PgPool,
        actor: &str,
        after_id: i64,
    ) -> Result<Vec<Self>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, action::text AS action, entity_type::text AS entity_type, entity_id
             FROM audit_log WHERE actor = $1 AND id > $2 ORDER BY id",
        )
        .bind(actor)
        .bind(after_id)
        .fetch_all(pool)
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamp_keeps_microseconds() {
        let parsed = parse_json_field(&json!("2024-05-01T10:00:00.123456Z"), FieldKind::Timestamp);

        assert_eq!(parsed.as_deref(), Ok("2024-05-01T10:00:00.123456Z"));
    }

    #[test]
    fn timestamp_zero_offset_equals_z() {
        let with_offset =
            parse_json_field(&json!("2024-05-01T10:00:00.5+00:00"), FieldKind::Timestamp);
        let with_z = parse_json_field(&json!("2024-05-01T10:00:00.500Z"), FieldKind::Timestamp);

        assert_eq!(with_offset, with_z);
    }

    #[test]
    fn timestamp_rejects_other_offset() {
        let parsed = parse_json_field(&json!("2024-05-01T12:00:00+02:00"), FieldKind::Timestamp);

        assert_eq!(
            parsed,
            Err("not in UTC: \"2024-05-01T12:00:00+02:00\"".to_owned())
        );
    }

    #[test]
    fn timestamp_truncated_differs_from_database() {
        let stored = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);

        let parsed = parse_json_field(&json!("2024-05-01T10:00:00.123Z"), FieldKind::Timestamp);

        assert_ne!(parsed, Ok(timestamp(stored)));
    }

    #[test]
    fn uuid_is_lowercased() {
        let parsed = parse_json_field(
            &json!("0B6C5F4E-1C2D-4E3F-8A9B-0C1D2E3F4A5B"),
            FieldKind::Uuid,
        );

        assert_eq!(
            parsed.as_deref(),
            Ok("0b6c5f4e-1c2d-4e3f-8a9b-0c1d2e3f4a5b")
        );
    }

    #[test]
    fn integer_rejects_string() {
        let parsed = parse_json_field(&json!("12"), FieldKind::Integer);

        assert_eq!(parsed, Err("not an integer: \"12\"".to_owned()));
    }

    #[test]
    fn fields_report_missing_field() {
        let fields = fields_from_json(&json!({"id": "x"}), &[("title", FieldKind::Text)]);

        assert_eq!(fields.get("title"), Some(&Err("missing".to_owned())));
    }
}
