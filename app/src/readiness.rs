//! Readiness: the database responds and has applied every migration the app
//! was built with, all successfully and from the same files.

use std::sync::Mutex;
use std::time::Duration;

use crate::db::{AppliedMigration, Database, MigrationTable, embedded_migrations};

/// Maximum duration of a readiness check, so that probes get a response
/// quickly even while the database hangs. The pool's acquire
/// timeout (`LV_DB_ACQUIRE_TIMEOUT_MS`) ends it earlier when it is shorter.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Reason the app is not ready, sent as `reason` by `/readyz`. The log
/// contains the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReadyReason {
    /// No connection, login rejected, or no response in time.
    DatabaseUnreachable,
    /// No migration is recorded, or `_sqlx_migrations` cannot be read.
    SchemaMissing,
    /// At least one embedded migration is not applied yet.
    SchemaBehind,
    /// A migration is recorded as failed, or was applied from a file whose
    /// checksum differs from the embedded one.
    SchemaDirty,
}

impl NotReadyReason {
    /// Returns the `reason` text that `/readyz` sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DatabaseUnreachable => "database_unreachable",
            Self::SchemaMissing => "schema_missing",
            Self::SchemaBehind => "schema_behind",
            Self::SchemaDirty => "schema_dirty",
        }
    }
}

/// Result of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready; `schema_version` is the highest version in `_sqlx_migrations`.
    Ready { schema_version: i64 },
    /// Not ready, with the reason and a detail for the log only.
    NotReady {
        reason: NotReadyReason,
        detail: String,
    },
}

/// Checks readiness on request and logs each change of outcome once.
pub struct ReadinessProbe {
    db: Database,
    embedded: Vec<(i64, Vec<u8>)>,
    last_logged: Mutex<Option<LoggedOutcome>>,
}

/// The part of an outcome whose change is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoggedOutcome {
    Ready(i64),
    NotReady(NotReadyReason),
}

impl ReadinessProbe {
    /// Creates a probe that compares with the migrations embedded in this build.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            embedded: embedded_migrations(),
            last_logged: Mutex::new(None),
        }
    }

    /// Reads `_sqlx_migrations` and compares it with the embedded migrations.
    pub async fn check(&self) -> Readiness {
        #[cfg(feature = "failpoints")]
        if let Some(cached) = crate::faults::cached_readiness() {
            return cached;
        }
        let result = tokio::time::timeout(CHECK_TIMEOUT, self.db.applied_migrations()).await;
        let readiness = match result {
            Err(_elapsed) => Readiness::NotReady {
                reason: NotReadyReason::DatabaseUnreachable,
                detail: format!("no answer from the database within {CHECK_TIMEOUT:?}"),
            },
            Ok(Err(err)) => Readiness::NotReady {
                reason: NotReadyReason::DatabaseUnreachable,
                detail: format!("cannot read _sqlx_migrations: {err}"),
            },
            Ok(Ok(MigrationTable::Missing)) => Readiness::NotReady {
                reason: NotReadyReason::SchemaMissing,
                detail: "table _sqlx_migrations does not exist; apply the migrations as \
                         lv_migrator"
                    .to_owned(),
            },
            Ok(Ok(MigrationTable::NotReadable)) => Readiness::NotReady {
                reason: NotReadyReason::SchemaMissing,
                detail: "permission denied on _sqlx_migrations; the first migration grants \
                         SELECT on it to lv_app, so apply the migrations as lv_migrator"
                    .to_owned(),
            },
            Ok(Ok(MigrationTable::Rows(applied))) => compare(&self.embedded, &applied),
        };

        self.log_if_changed(&readiness);
        #[cfg(feature = "failpoints")]
        crate::faults::remember_readiness(&readiness);
        readiness
    }

    fn log_if_changed(&self, readiness: &Readiness) {
        let outcome = match readiness {
            Readiness::Ready { schema_version } => LoggedOutcome::Ready(*schema_version),
            Readiness::NotReady { reason, .. } => LoggedOutcome::NotReady(*reason),
        };
        let mut last = self
            .last_logged
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if *last == Some(outcome) {
            return;
        }
        *last = Some(outcome);
        drop(last);

        match readiness {
            Readiness::Ready { schema_version } => {
                tracing::info!(schema_version, "ready");
            }
            Readiness::NotReady { reason, detail } => {
                tracing::warn!(reason = reason.as_str(), detail = %detail, "not ready");
            }
        }
    }
}

/// Compares the applied migrations with the embedded ones (both in version
/// order). Applied versions newer than the build are allowed, so an older
/// app keeps serving while a newer schema rolls out.
pub fn compare(embedded: &[(i64, Vec<u8>)], applied: &[AppliedMigration]) -> Readiness {
    let not_ready = |reason, detail: String| Readiness::NotReady { reason, detail };

    if let Some(failed) = applied.iter().find(|migration| !migration.success) {
        return not_ready(
            NotReadyReason::SchemaDirty,
            format!(
                "migration {} is recorded as failed in _sqlx_migrations; repair it by hand",
                failed.version
            ),
        );
    }

    for (version, checksum) in embedded {
        let Some(record) = applied.iter().find(|m| m.version == *version) else {
            continue;
        };
        if record.checksum != *checksum {
            return not_ready(
                NotReadyReason::SchemaDirty,
                format!(
                    "migration {version} was applied from a file whose checksum differs from \
                     the one this build embeds"
                ),
            );
        }
    }

    let Some(schema_version) = applied.iter().map(|m| m.version).max() else {
        return not_ready(
            NotReadyReason::SchemaMissing,
            "_sqlx_migrations has no rows; apply the migrations as lv_migrator".to_owned(),
        );
    };

    let missing: Vec<String> = embedded
        .iter()
        .filter(|(version, _)| !applied.iter().any(|m| m.version == *version))
        .map(|(version, _)| version.to_string())
        .collect();
    if !missing.is_empty() {
        return not_ready(
            NotReadyReason::SchemaBehind,
            format!(
                "migrations {} are not applied (database at version {schema_version})",
                missing.join(", ")
            ),
        );
    }

    Readiness::Ready { schema_version }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> Vec<(i64, Vec<u8>)> {
        vec![(1, vec![1]), (2, vec![2]), (3, vec![3])]
    }

    fn applied(versions: &[(i64, u8, bool)]) -> Vec<AppliedMigration> {
        versions
            .iter()
            .map(|(version, checksum, success)| AppliedMigration {
                version: *version,
                success: *success,
                checksum: vec![*checksum],
            })
            .collect()
    }

    fn reason_of(readiness: Readiness) -> Option<NotReadyReason> {
        match readiness {
            Readiness::Ready { .. } => None,
            Readiness::NotReady { reason, .. } => Some(reason),
        }
    }

    #[test]
    fn all_applied_is_ready() {
        let readiness = compare(
            &embedded(),
            &applied(&[(1, 1, true), (2, 2, true), (3, 3, true)]),
        );

        assert_eq!(readiness, Readiness::Ready { schema_version: 3 });
    }

    #[test]
    fn newer_database_is_ready() {
        let rows = applied(&[(1, 1, true), (2, 2, true), (3, 3, true), (4, 9, true)]);

        let readiness = compare(&embedded(), &rows);

        assert_eq!(readiness, Readiness::Ready { schema_version: 4 });
    }

    #[test]
    fn missing_version_is_behind() {
        let readiness = compare(&embedded(), &applied(&[(1, 1, true), (2, 2, true)]));

        assert_eq!(reason_of(readiness), Some(NotReadyReason::SchemaBehind));
    }

    #[test]
    fn gap_is_behind() {
        let readiness = compare(&embedded(), &applied(&[(1, 1, true), (3, 3, true)]));

        assert_eq!(reason_of(readiness), Some(NotReadyReason::SchemaBehind));
    }

    #[test]
    fn failed_migration_is_dirty() {
        let rows = applied(&[(1, 1, true), (2, 2, true), (3, 3, false)]);

        assert_eq!(
            reason_of(compare(&embedded(), &rows)),
            Some(NotReadyReason::SchemaDirty)
        );
    }

    #[test]
    fn checksum_mismatch_is_dirty() {
        let rows = applied(&[(1, 1, true), (2, 7, true), (3, 3, true)]);

        assert_eq!(
            reason_of(compare(&embedded(), &rows)),
            Some(NotReadyReason::SchemaDirty)
        );
    }

    #[test]
    fn empty_table_is_missing() {
        assert_eq!(
            reason_of(compare(&embedded(), &[])),
            Some(NotReadyReason::SchemaMissing)
        );
    }

    #[test]
    fn embedded_migrations_are_ordered() {
        let versions: Vec<i64> = embedded_migrations().iter().map(|(v, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();

        assert!(!versions.is_empty(), "the build should embed migrations/");
        assert_eq!(versions, sorted);
    }
}
