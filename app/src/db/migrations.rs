//! The migrations the app was built with and those the database has applied.

use sqlx::Row;

use super::{Database, DbError};

/// Migrations from `migrations/`, embedded at compile time. The app never
/// runs them: the harness or an operator applies them as `lv_migrator`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub success: bool,
    /// SHA-384 of the migration file, as sqlx computed it when applying.
    pub checksum: Vec<u8>,
}

/// Contents of `_sqlx_migrations`, as far as the app's role can read them.
#[derive(Debug)]
pub enum MigrationTable {
    /// The table does not exist: no migration was ever applied (42P01).
    Missing,
    /// The table exists but the app's role may not read it (42501), as before
    /// the first migration's grant.
    NotReadable,
    /// Rows in version order.
    Rows(Vec<AppliedMigration>),
}

/// Versions and checksums of the embedded migrations, in version order.
pub fn embedded_migrations() -> Vec<(i64, Vec<u8>)> {
    MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| (migration.version, migration.checksum.to_vec()))
        .collect()
}

impl Database {
    /// Reads `_sqlx_migrations`.
    pub async fn applied_migrations(&self) -> Result<MigrationTable, DbError> {
        let result = sqlx::query(
            "SELECT version, success, checksum FROM public._sqlx_migrations ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await;

        let rows = match result {
            Ok(rows) => rows,
            Err(err) => {
                let code = err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|code| code.into_owned());
                return match code.as_deref() {
                    Some("42P01") => Ok(MigrationTable::Missing),
                    Some("42501") => Ok(MigrationTable::NotReadable),
                    _ => Err(err.into()),
                };
            }
        };

        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            applied.push(AppliedMigration {
                version: row.try_get("version")?,
                success: row.try_get("success")?,
                checksum: row.try_get("checksum")?,
            });
        }
        Ok(MigrationTable::Rows(applied))
    }
}
