//! The database invariants checked after every call, read directly as the auditor role in one
//! statement: the rows equal the model's (so row counts match), no orphans, unique constraints
//! hold, `updated_at` is never before `created_at`, and the audit log has exactly one row per
//! successful mutation and none for a failed one.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::calls::Kind;
use super::model::State;
use super::responses::KnownSlots;

/// Actor the driver sends in `X-Actor`, which every audit row must carry.
pub const ACTOR: &str = "crud.properties";

/// The whole database state in one round trip. Rows are in (created_at, id) order, audit rows
/// in id order.
const SNAPSHOT: &str = "
SELECT
  (SELECT coalesce(json_agg(u ORDER BY u.created_at, u.id), '[]'::json) FROM
     (SELECT id, email, display_name, created_at, updated_at FROM users) u) AS users,
  (SELECT coalesce(json_agg(v ORDER BY v.created_at, v.id), '[]'::json) FROM
     (SELECT id, owner_id, title, source_language, duration_seconds::bigint AS duration_seconds,
             status, created_at, updated_at FROM videos) v) AS videos,
  (SELECT coalesce(json_agg(l ORDER BY l.created_at, l.id), '[]'::json) FROM
     (SELECT id, video_id, target_language, kind, status, created_at, updated_at
      FROM localizations) l) AS localizations,
  (SELECT coalesce(json_agg(a ORDER BY a.id), '[]'::json) FROM
     (SELECT id, actor, action, entity_type, entity_id FROM audit_log) a) AS audit,
  (SELECT count(*) FROM videos v WHERE NOT EXISTS
     (SELECT 1 FROM users u WHERE u.id = v.owner_id)) AS orphan_videos,
  (SELECT count(*) FROM localizations l WHERE NOT EXISTS
     (SELECT 1 FROM videos v WHERE v.id = l.video_id)) AS orphan_localizations,
  (SELECT count(*) FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1) d)
     AS duplicate_emails,
  (SELECT count(*) FROM (SELECT 1 FROM localizations
     GROUP BY video_id, target_language, kind HAVING count(*) > 1) d) AS duplicate_localizations,
  (SELECT count(*) FROM users WHERE updated_at < created_at)
   + (SELECT count(*) FROM videos WHERE updated_at < created_at)
   + (SELECT count(*) FROM localizations WHERE updated_at < created_at) AS updated_before_created
";

#[derive(Debug, Deserialize)]
struct UserRow {
    id: Uuid,
    email: String,
    display_name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct VideoRow {
    id: Uuid,
    owner_id: Uuid,
    title: String,
    source_language: String,
    duration_seconds: i64,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct LocalizationRow {
    id: Uuid,
    video_id: Uuid,
    target_language: String,
    kind: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct AuditRow {
    id: i64,
    actor: String,
    action: String,
    entity_type: String,
    entity_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Snapshot {
    users: Json<Vec<UserRow>>,
    videos: Json<Vec<VideoRow>>,
    localizations: Json<Vec<LocalizationRow>>,
    audit: Json<Vec<AuditRow>>,
    orphan_videos: i64,
    orphan_localizations: i64,
    duplicate_emails: i64,
    duplicate_localizations: i64,
    updated_before_created: i64,
}

/// Failure of an invariant check: no verdict, or a broken invariant.
pub enum Violation {
    /// The database could not be read.
    Unreadable(sqlx::Error),
    /// An invariant is broken; the text names it.
    Broken(String),
}

/// Reads the database and compares it with `state` and the ids and timestamps in `known`.
pub async fn check(pool: &PgPool, state: &State, known: &KnownSlots) -> Result<(), Violation> {
    let snapshot: Snapshot = sqlx::query_as(SNAPSHOT)
        .fetch_one(pool)
        .await
        .map_err(Violation::Unreadable)?;
    compare(&snapshot, state, known).map_err(Violation::Broken)
}

fn compare(snapshot: &Snapshot, state: &State, known: &KnownSlots) -> Result<(), String> {
    let counters = [
        ("videos without an owner row", snapshot.orphan_videos),
        (
            "localizations without a video row",
            snapshot.orphan_localizations,
        ),
        (
            "emails stored twice regardless of case",
            snapshot.duplicate_emails,
        ),
        (
            "(video_id, target_language, kind) stored twice",
            snapshot.duplicate_localizations,
        ),
        (
            "rows with updated_at before created_at",
            snapshot.updated_before_created,
        ),
    ];
    for (what, count) in counters {
        if count != 0 {
            return Err(format!("database has {count} {what}"));
        }
    }

    let users = alive(Kind::User, state.users.iter().map(|u| u.alive), known)?;
    rows_match(
        "users",
        &users,
        &snapshot.users,
        |row| row.id,
        |slot, row| {
            let model = &state.users[slot];
            let facts = &known.users[slot];
            field("email", &model.email, &row.email)?;
            field("display_name", &model.display_name, &row.display_name)?;
            timestamps(
                facts.created_at,
                facts.updated_at,
                row.created_at,
                row.updated_at,
            )
        },
    )?;

    let videos = alive(Kind::Video, state.videos.iter().map(|v| v.alive), known)?;
    rows_match(
        "videos",
        &videos,
        &snapshot.videos,
        |row| row.id,
        |slot, row| {
            let model = &state.videos[slot];
            let facts = &known.videos[slot];
            let owner = known.id(Kind::User, model.owner);
            field("owner_id", &owner, &Some(row.owner_id))?;
            field("title", &model.title, &row.title)?;
            field(
                "source_language",
                &model.source_language,
                &row.source_language,
            )?;
            field(
                "duration_seconds",
                &model.duration_seconds,
                &row.duration_seconds,
            )?;
            field("status", &model.status, &row.status)?;
            timestamps(
                facts.created_at,
                facts.updated_at,
                row.created_at,
                row.updated_at,
            )
        },
    )?;

    let localizations = alive(
        Kind::Localization,
        state.localizations.iter().map(|l| l.alive),
        known,
    )?;
    rows_match(
        "localizations",
        &localizations,
        &snapshot.localizations,
        |row| row.id,
        |slot, row| {
            let model = &state.localizations[slot];
            let facts = &known.localizations[slot];
            let video = known.id(Kind::Video, model.video);
            field("video_id", &video, &Some(row.video_id))?;
            field(
                "target_language",
                &model.target_language,
                &row.target_language,
            )?;
            field("kind", &model.kind, &row.kind)?;
            field("status", &model.status, &row.status)?;
            timestamps(
                facts.created_at,
                facts.updated_at,
                row.created_at,
                row.updated_at,
            )
        },
    )?;

    audit_matches(state, known, &snapshot.audit)
}

/// Returns the (slot, id) of every alive slot of `kind`, in slot order.
fn alive(
    kind: Kind,
    alive: impl Iterator<Item = bool>,
    known: &KnownSlots,
) -> Result<Vec<(usize, Uuid)>, String> {
    alive
        .enumerate()
        .filter(|(_, alive)| *alive)
        .map(|(slot, _)| {
            known
                .id(kind, slot)
                .map(|id| (slot, id))
                .ok_or_else(|| format!("internal: {}#{slot} has no id", kind.entity_type()))
        })
        .collect()
}

/// Compares the rows of a table with the model's alive slots, in (created_at, id) order,
/// which is creation order.
fn rows_match<R>(
    table: &str,
    expected: &[(usize, Uuid)],
    rows: &[R],
    id_of: impl Fn(&R) -> Uuid,
    compare: impl Fn(usize, &R) -> Result<(), String>,
) -> Result<(), String> {
    let row_ids: Vec<Uuid> = rows.iter().map(&id_of).collect();
    let expected_ids: Vec<Uuid> = expected.iter().map(|(_, id)| *id).collect();
    if row_ids != expected_ids {
        let extra: Vec<&Uuid> = row_ids
            .iter()
            .filter(|id| !expected_ids.contains(id))
            .collect();
        let missing: Vec<&Uuid> = expected_ids
            .iter()
            .filter(|id| !row_ids.contains(id))
            .collect();
        return Err(format!(
            "table {table} has {} rows, model {}; rows the model does not have: {extra:?}; \
             model rows missing from the table: {missing:?}",
            row_ids.len(),
            expected_ids.len()
        ));
    }
    for ((slot, _), row) in expected.iter().zip(rows) {
        compare(*slot, row)
            .map_err(|difference| format!("table {table}, slot {slot}: {difference}"))?;
    }
    Ok(())
}

fn field<T: PartialEq + std::fmt::Debug>(name: &str, model: &T, row: &T) -> Result<(), String> {
    if model == row {
        Ok(())
    } else {
        Err(format!(
            "column `{name}`: database {row:?}, model {model:?}"
        ))
    }
}

fn timestamps(
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    row_created_at: DateTime<Utc>,
    row_updated_at: DateTime<Utc>,
) -> Result<(), String> {
    if row_created_at != created_at || row_updated_at != updated_at {
        return Err(format!(
            "timestamps: database created_at {row_created_at} updated_at {row_updated_at}, \
             last response created_at {created_at} updated_at {updated_at}"
        ));
    }
    Ok(())
}

/// The audit log must hold exactly the model's rows, in order, each with the driver's actor.
fn audit_matches(state: &State, known: &KnownSlots, rows: &[AuditRow]) -> Result<(), String> {
    let describe = |row: &AuditRow| {
        format!(
            "#{} {} {} {}",
            row.id, row.action, row.entity_type, row.entity_id
        )
    };
    if rows.len() != state.audit.len() {
        let rows: Vec<String> = rows.iter().map(describe).collect();
        return Err(format!(
            "audit_log has {} rows, model {} successful mutations; rows: [{}]",
            rows.len(),
            state.audit.len(),
            rows.join(", ")
        ));
    }
    for (row, expected) in rows.iter().zip(&state.audit) {
        let entity_id = known.id(expected.kind, expected.slot);
        let matches = row.actor == ACTOR
            && row.action == expected.action
            && row.entity_type == expected.kind.entity_type()
            && Some(row.entity_id) == entity_id;
        if !matches {
            return Err(format!(
                "audit_log row {} (actor {:?}), model {} {}#{} ({})",
                describe(row),
                row.actor,
                expected.action,
                expected.kind.entity_type(),
                expected.slot,
                entity_id.map_or("no id".to_owned(), |id| id.to_string())
            ));
        }
    }
    Ok(())
}
