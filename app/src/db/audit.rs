//! Audit log writes, always inside the transaction of the change.

use sqlx::PgConnection;

use super::DbError;
use crate::audit::AuditEntry;

/// Appends one row to `audit_log`.
pub(super) async fn insert(conn: &mut PgConnection, entry: &AuditEntry<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, entity_type, entity_id, entity) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(entry.actor.as_str())
    .bind(entry.action.as_str())
    .bind(entry.entity_type.as_str())
    .bind(entry.entity_id)
    .bind(&entry.entity)
    .execute(conn)
    .await?;
    Ok(())
}
