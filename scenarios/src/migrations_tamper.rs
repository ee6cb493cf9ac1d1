//! Check `migrations.tamper`: the `_sqlx_migrations` ledger of a migrated database agrees with
//! the migrations folder. It reports an applied migration whose file was edited since
//! (checksum mismatch), a recorded migration whose file is missing, and a migration recorded
//! as failed. It also reports a new file numbered below an applied migration, because sqlx
//! 0.9's migrator applies such a file out of order without an error.
//!
//! `harness drift` compares a live database's ledger with the same function,
//! [`compare_ledger`].

use std::path::Path;
use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::db_error::error_text;
use harness::deployment::{DATABASE, Deployment};
use sqlx::{Connection, PgConnection};

use crate::migration_files::{MigrationFile, hex, migration_label, read_migration_files};
use crate::plural::count_noun;
use crate::redact::redact;

/// Stable check name.
pub const NAME: &str = "migrations.tamper";

/// One row of sqlx's `_sqlx_migrations` table, as far as the comparison needs it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerRow {
    /// Version of the applied migration.
    pub version: i64,
    /// Description sqlx recorded from the file name.
    pub description: String,
    /// Whether the migration finished.
    pub success: bool,
    /// SHA-384 of the file's bytes when it was applied.
    pub checksum: Vec<u8>,
}

/// Reads `_sqlx_migrations` in version order, or returns `None` when the table does not exist
/// (a database that sqlx never migrated).
pub async fn read_ledger(
    connection: &mut PgConnection,
) -> Result<Option<Vec<LedgerRow>>, sqlx::Error> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut *connection)
            .await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query_as(
        "SELECT version, description, success, checksum FROM public._sqlx_migrations
         ORDER BY version",
    )
    .fetch_all(&mut *connection)
    .await?;
    Ok(Some(rows))
}

/// Compares the ledger, read from table `ledger_table`, with the files of `dir` and returns one
/// finding per disagreement, each naming the version and the file. A file above every applied
/// version is pending, which is not a finding.
pub fn compare_ledger(
    dir: &Path,
    ledger_table: &str,
    files: &[MigrationFile],
    rows: &[LedgerRow],
) -> Vec<String> {
    let mut findings = Vec::new();

    for row in rows {
        let Some(file) = files.iter().find(|file| file.version == row.version) else {
            findings.push(format!(
                "migration {} ({:?}) is recorded in {ledger_table}, but its file is missing \
                 from {}: restore the file, because an applied migration cannot be removed",
                row.version,
                row.description,
                dir.display()
            ));
            continue;
        };
        let label = migration_label(files, row.version);
        if !row.success {
            findings.push(format!(
                "{label} is recorded as failed in {ledger_table}: it stopped halfway, so repair \
                 the database by hand and resolve its {ledger_table} row"
            ));
        }
        if row.checksum != file.checksum {
            findings.push(format!(
                "{label} was edited after it was applied: {ledger_table} records checksum {}, \
                 but the file's checksum is {}; revert the edit and put the change in a new \
                 migration",
                short_hex(&row.checksum),
                short_hex(&file.checksum)
            ));
        }
    }

    let highest_applied = rows.iter().map(|row| row.version).max();
    if let Some(highest) = highest_applied {
        for file in files {
            let recorded = rows.iter().any(|row| row.version == file.version);
            if !recorded && file.version < highest {
                findings.push(format!(
                    "{} is new but numbered below migration {highest}, which is already \
                     applied: sqlx 0.9 and Prisma Migrate apply such a file out of order without \
                     an error; give it a version above {highest}",
                    migration_label(files, file.version)
                ));
            }
        }
    }
    findings
}

/// Reason the check stopped before a verdict.
struct Stop(String);

/// Compares the ledger of the deployment's application database, which must be migrated, with
/// `deployment.migrations_dir`.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, migrations_dir = %deployment.migrations_dir.display(), "check started");

    let mut findings = Vec::new();
    let outcome = compare(deployment, &mut findings).await;
    let result = finish(started.elapsed(), outcome, findings);

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

fn finish(elapsed: Duration, outcome: Result<usize, Stop>, findings: Vec<String>) -> CheckResult {
    match outcome {
        Err(Stop(message)) => CheckResult::error(NAME, elapsed, message),
        Ok(count) => CheckResult::from_findings(
            NAME,
            elapsed,
            format!(
                "{} recorded in {DATABASE}'s _sqlx_migrations {} their files, unchanged, and no \
                 new file is numbered below an applied one",
                count_noun(count, "migration", "migrations"),
                if count == 1 { "has" } else { "have" }
            ),
            findings,
        ),
    }
}

async fn compare(deployment: &Deployment, findings: &mut Vec<String>) -> Result<usize, Stop> {
    let dir = &deployment.migrations_dir;
    let files = match read_migration_files(dir) {
        Ok(files) => files,
        Err(error) => {
            findings.push(error.to_string());
            return Ok(0);
        }
    };

    // The migrator role owns _sqlx_migrations, and a fixture's migrations grant nothing on it.
    let options = deployment.connect_options(&deployment.migrator);
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| {
            Stop(format!(
                "cannot connect to {DATABASE} as the migrator role: {}",
                redact(deployment, &error_text(&error))
            ))
        })?;
    let ledger = read_ledger(&mut connection).await.map_err(|error| {
        Stop(format!(
            "reading _sqlx_migrations failed: {}",
            redact(deployment, &error_text(&error))
        ))
    })?;
    if let Err(error) = connection.close().await {
        tracing::debug!(check = NAME, %error, "closing the connection failed");
    }

    let Some(rows) = ledger else {
        return Err(Stop(format!(
            "{DATABASE} has no _sqlx_migrations table, so there is no ledger to compare; \
             apply the migrations first"
        )));
    };
    findings.extend(compare_ledger(dir, "_sqlx_migrations", &files, &rows));
    Ok(rows.len())
}

/// Formats the first 16 hex digits of a checksum, enough to tell two apart in a message.
fn short_hex(bytes: &[u8]) -> String {
    let mut text = hex(bytes);
    text.truncate(16);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: i64, checksum: u8) -> MigrationFile {
        MigrationFile {
            version,
            description: format!("step {version}"),
            file_name: format!("{version:04}_step_{version}.sql"),
            checksum: vec![checksum; 48],
        }
    }

    fn row(version: i64, checksum: u8) -> LedgerRow {
        LedgerRow {
            version,
            description: format!("step {version}"),
            success: true,
            checksum: vec![checksum; 48],
        }
    }

    fn compare(files: &[MigrationFile], rows: &[LedgerRow]) -> Vec<String> {
        compare_ledger(Path::new("migrations"), "_sqlx_migrations", files, rows)
    }

    #[test]
    fn matching_ledger_and_pending_file_are_clean() {
        let files = [file(1, 1), file(2, 2), file(3, 3)];
        let rows = [row(1, 1), row(2, 2)];

        let findings = compare(&files, &rows);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn edited_file_names_version_and_file() {
        let files = [file(1, 1), file(2, 9)];
        let rows = [row(1, 1), row(2, 2)];

        let findings = compare(&files, &rows);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].starts_with(
                "migration 2 (0002_step_2.sql) was edited after it was applied: \
                 _sqlx_migrations records checksum 0202020202020202, but the file's checksum is \
                 0909090909090909"
            ),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn missing_file_names_version_and_description() {
        let files = [file(1, 1)];
        let rows = [row(1, 1), row(2, 2)];

        let findings = compare(&files, &rows);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].starts_with(
                "migration 2 (\"step 2\") is recorded in _sqlx_migrations, but its file is \
                 missing from migrations"
            ),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn lower_new_file_names_version_and_file() {
        let files = [file(1, 1), file(3, 3), file(4, 4)];
        let rows = [row(1, 1), row(4, 4)];

        let findings = compare(&files, &rows);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].starts_with(
                "migration 3 (0003_step_3.sql) is new but numbered below migration 4, which is \
                 already applied"
            ),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn failed_migration_is_finding() {
        let files = [file(1, 1)];
        let mut failed = row(1, 1);
        failed.success = false;

        let findings = compare(&files, &[failed]);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].starts_with(
                "migration 1 (0001_step_1.sql) is recorded as failed in _sqlx_migrations"
            ),
            "finding: {}",
            findings[0]
        );
    }
}
