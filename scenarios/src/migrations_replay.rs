//! Check `migrations.replay`: the migrations apply cleanly to a fresh database,
//! sqlx records each file with its SHA-384 checksum, a second run applies
//! nothing, and the resulting schema equals the committed snapshot.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use harness::check::CheckResult;
use harness::db_error::error_text;
use harness::deployment::Deployment;
use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

use crate::migration_files::{MigrationFile, hex, migration_label, read_migration_files};
use crate::plural::count_noun;
use crate::redact::redact;
use crate::snapshot::{
    SCHEMA_SNAPSHOT, describe_first_difference, normalize, read_snapshot_body, snapshot_path,
};

pub use crate::schema::describe_schema;

/// Stable check name.
pub const NAME: &str = "migrations.replay";

/// How to review or accept a schema change, quoted in the snapshot finding.
///
/// NOTE: `cargo insta review` (cargo-insta 1.49) looks for pending snapshots
/// only inside package folders, so it does not find the top-level
/// `snapshots/`. The test's failure output shows the diff instead.
const SNAPSHOT_HINT: &str = "if the change is intended, see the full diff with `cargo nextest \
     run -p scenarios --test schema_snapshot` and accept it with \
     `INSTA_UPDATE=always cargo nextest run -p scenarios --test schema_snapshot`";

/// One row of sqlx's `_sqlx_migrations` table.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    description: String,
    installed_on: DateTime<Utc>,
    success: bool,
    checksum: Vec<u8>,
    execution_time: i64,
}

/// Reason the check stopped before a verdict.
struct Stop(String);

/// Applies the migrations of `deployment.migrations_dir` to its fresh database
/// as the migrator role and verifies the ledger, idempotence and schema.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, migrations_dir = %deployment.migrations_dir.display(), "check started");

    let mut findings = Vec::new();
    let outcome = replay(deployment, &mut findings).await;
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
                "{} applied once with matching checksums; schema equals the snapshot",
                count_noun(count, "migration", "migrations")
            ),
            findings,
        ),
    }
}

/// Runs the steps of the check, pushing one finding per broken rule. Returns
/// the number of migration files, or a [`Stop`] when no verdict is possible.
async fn replay(deployment: &Deployment, findings: &mut Vec<String>) -> Result<usize, Stop> {
    // Read the files ourselves, so the checksums are not sqlx's word.
    let files = match read_migration_files(&deployment.migrations_dir) {
        Ok(files) => files,
        Err(error) => {
            findings.push(error.to_string());
            return Ok(0);
        }
    };

    let pool = deployment
        .pool(&deployment.migrator)
        .await
        .map_err(|error| connect_stop(deployment, "migrator", &error))?;

    // The ledger must not exist yet: the check replays from a fresh database.
    let existing = ledger_exists(&pool)
        .await
        .map_err(|e| query_stop(deployment, &e))?;
    if existing {
        return Err(Stop(format!(
            "{NAME} needs a fresh database, but _sqlx_migrations already exists; \
             run it on a new deployment"
        )));
    }

    let migrator = match Migrator::new(deployment.migrations_dir.as_path()).await {
        Ok(migrator) => migrator,
        Err(error) => {
            findings.push(format!(
                "sqlx cannot read the migrations in {}: {}",
                deployment.migrations_dir.display(),
                redact(deployment, &error_text(&error))
            ));
            return Ok(files.len());
        }
    };

    // First run: every file applies.
    if let Err(error) = migrator.run(&pool).await {
        findings.push(describe_migrate_error(
            deployment,
            &files,
            "first run",
            &error,
        ));
        return Ok(files.len());
    }
    let first = read_ledger(&pool)
        .await
        .map_err(|e| query_stop(deployment, &e))?;
    check_ledger(&files, &first, findings);

    // Second run: nothing applies and no row changes.
    if let Err(error) = migrator.run(&pool).await {
        findings.push(describe_migrate_error(
            deployment,
            &files,
            "second run",
            &error,
        ));
    }
    let second = read_ledger(&pool)
        .await
        .map_err(|e| query_stop(deployment, &e))?;
    check_second_run(&files, &first, &second, findings);

    // The schema, read as the auditor, equals the committed snapshot.
    let auditor = deployment
        .pool(&deployment.auditor)
        .await
        .map_err(|error| connect_stop(deployment, "auditor", &error))?;
    let mut connection = auditor
        .acquire()
        .await
        .map_err(|error| connect_stop(deployment, "auditor", &error))?;
    let description = describe_schema(&mut connection)
        .await
        .map_err(|e| query_stop(deployment, &e))?;
    drop(connection);
    if let Some(finding) = compare_with_snapshot(&description) {
        findings.push(finding);
    }

    pool.close().await;
    auditor.close().await;
    Ok(files.len())
}

fn connect_stop(deployment: &Deployment, role: &str, error: &sqlx::Error) -> Stop {
    Stop(format!(
        "cannot connect to Postgres at {}:{} as the {role} role: {}; check that the \
         deployment is running",
        deployment.postgres_host,
        deployment.postgres_port,
        redact(deployment, &error_text(error))
    ))
}

fn query_stop(deployment: &Deployment, error: &sqlx::Error) -> Stop {
    Stop(format!(
        "reading the catalog failed: {}",
        redact(deployment, &error_text(error))
    ))
}

async fn ledger_exists(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    Ok(exists)
}

async fn read_ledger(pool: &PgPool) -> Result<Vec<AppliedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, description, installed_on, success, checksum, execution_time
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await
}

fn describe_migrate_error(
    deployment: &Deployment,
    files: &[MigrationFile],
    run: &str,
    error: &MigrateError,
) -> String {
    match error {
        MigrateError::ExecuteMigration(source, version) => format!(
            "{} failed to apply on the {run}: {}",
            migration_label(files, *version),
            redact(deployment, &describe_sqlx_error(source))
        ),
        MigrateError::VersionMismatch(version) => format!(
            "{} was applied but its file changed since (checksum mismatch) on the {run}",
            migration_label(files, *version)
        ),
        MigrateError::VersionMissing(version) => format!(
            "{} is recorded in _sqlx_migrations but its file is missing, found on the {run}",
            migration_label(files, *version)
        ),
        MigrateError::Dirty(version) => format!(
            "{} is recorded as failed (dirty) on the {run}",
            migration_label(files, *version)
        ),
        other => format!(
            "migrator failed on the {run}: {}",
            redact(deployment, &other.to_string())
        ),
    }
}

/// Formats a database error with its SQLSTATE; other errors use their message.
fn describe_sqlx_error(error: &sqlx::Error) -> String {
    match error.as_database_error() {
        Some(database_error) => match database_error.code() {
            Some(code) => format!("SQLSTATE {code}: {}", database_error.message()),
            None => database_error.message().to_owned(),
        },
        None => error.to_string(),
    }
}

/// Compares the ledger after the first run with the files on disk.
fn check_ledger(files: &[MigrationFile], rows: &[AppliedRow], findings: &mut Vec<String>) {
    for file in files {
        let label = migration_label(files, file.version);
        let Some(row) = rows.iter().find(|row| row.version == file.version) else {
            findings.push(format!("{label} is not recorded in _sqlx_migrations"));
            continue;
        };
        if !row.success {
            findings.push(format!("{label} is recorded with success = false"));
        }
        if row.checksum != file.checksum {
            findings.push(format!(
                "{label} is recorded with checksum {}, but the file's SHA-384 is {}",
                short_hex(&row.checksum),
                short_hex(&file.checksum)
            ));
        }
        if row.description != file.description {
            findings.push(format!(
                "{label} is recorded with description {:?}, expected {:?} from the file name",
                row.description, file.description
            ));
        }
    }

    for row in rows {
        if !files.iter().any(|file| file.version == row.version) {
            findings.push(format!(
                "migration {} ({:?}) is recorded in _sqlx_migrations but has no file in the \
                 migrations folder",
                row.version, row.description
            ));
        }
    }
}

/// Compares the ledger before and after the second run: it must be unchanged.
fn check_second_run(
    files: &[MigrationFile],
    first: &[AppliedRow],
    second: &[AppliedRow],
    findings: &mut Vec<String>,
) {
    for row in second {
        let label = migration_label(files, row.version);
        match first.iter().find(|before| before.version == row.version) {
            None => findings.push(format!("{label} was applied only by the second run")),
            Some(before) if before.installed_on != row.installed_on => findings.push(format!(
                "{label} was applied again by the second run: installed_on changed from {} to {}",
                before.installed_on, row.installed_on
            )),
            Some(before) if before != row => findings.push(format!(
                "{label} has a different _sqlx_migrations row after the second run"
            )),
            Some(_) => {}
        }
    }
    for before in first {
        if !second.iter().any(|row| row.version == before.version) {
            findings.push(format!(
                "{} disappeared from _sqlx_migrations during the second run",
                migration_label(files, before.version)
            ));
        }
    }
}

/// Returns a finding when `description` differs from the committed schema snapshot.
fn compare_with_snapshot(description: &str) -> Option<String> {
    let path = snapshot_path(SCHEMA_SNAPSHOT);
    let expected = match read_snapshot_body(&path) {
        Ok(body) => body,
        Err(error) => return Some(error.to_string()),
    };
    if expected == normalize(description) {
        return None;
    }

    let difference = describe_first_difference(&expected, description)
        .unwrap_or_else(|| "contents differ".to_owned());
    Some(format!(
        "schema differs from the snapshot {} at {difference}; {SNAPSHOT_HINT}",
        path.display()
    ))
}

/// Formats the first 16 hex digits of a checksum, enough to tell two apart in a message.
fn short_hex(bytes: &[u8]) -> String {
    let mut text = hex(bytes);
    text.truncate(16);
    text
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn file(version: i64, name: &str, checksum: u8) -> MigrationFile {
        MigrationFile {
            version,
            description: name.to_owned(),
            file_name: format!("{version:04}_{}.sql", name.replace(' ', "_")),
            checksum: vec![checksum; 48],
        }
    }

    fn row(version: i64, description: &str, checksum: u8, second: u32) -> AppliedRow {
        AppliedRow {
            version,
            description: description.to_owned(),
            installed_on: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, second).unwrap(),
            success: true,
            checksum: vec![checksum; 48],
            execution_time: 1_000,
        }
    }

    #[test]
    fn ledger_matching_files_no_finding() {
        let files = [file(1, "create users", 1), file(2, "create videos", 2)];
        let rows = [row(1, "create users", 1, 0), row(2, "create videos", 2, 0)];
        let mut findings = Vec::new();

        check_ledger(&files, &rows, &mut findings);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn ledger_checksum_mismatch_names_file() {
        let files = [file(1, "create users", 1)];
        let rows = [row(1, "create users", 9, 0)];
        let mut findings = Vec::new();

        check_ledger(&files, &rows, &mut findings);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0]
                .starts_with("migration 1 (0001_create_users.sql) is recorded with checksum"),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn ledger_missing_and_extra_rows() {
        let files = [file(1, "create users", 1)];
        let rows = [row(7, "stray", 7, 0)];
        let mut findings = Vec::new();

        check_ledger(&files, &rows, &mut findings);

        assert_eq!(
            findings,
            [
                "migration 1 (0001_create_users.sql) is not recorded in _sqlx_migrations",
                "migration 7 (\"stray\") is recorded in _sqlx_migrations but has no file in the \
                 migrations folder",
            ]
        );
    }

    #[test]
    fn ledger_failed_migration_is_finding() {
        let files = [file(1, "create users", 1)];
        let mut failed = row(1, "create users", 1, 0);
        failed.success = false;
        let mut findings = Vec::new();

        check_ledger(&files, &[failed], &mut findings);

        assert_eq!(
            findings,
            ["migration 1 (0001_create_users.sql) is recorded with success = false"]
        );
    }

    #[test]
    fn second_run_unchanged_no_finding() {
        let files = [file(1, "create users", 1)];
        let rows = [row(1, "create users", 1, 0)];
        let mut findings = Vec::new();

        check_second_run(&files, &rows, &rows, &mut findings);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn second_run_reapplied_is_finding() {
        let files = [file(1, "create users", 1)];
        let first = [row(1, "create users", 1, 0)];
        let second = [row(1, "create users", 1, 5)];
        let mut findings = Vec::new();

        check_second_run(&files, &first, &second, &mut findings);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].starts_with(
                "migration 1 (0001_create_users.sql) was applied again by the second run"
            ),
            "finding: {}",
            findings[0]
        );
    }

    #[test]
    fn second_run_new_row_is_finding() {
        let files = [file(1, "create users", 1), file(2, "create videos", 2)];
        let first = [row(1, "create users", 1, 0)];
        let second = [row(1, "create users", 1, 0), row(2, "create videos", 2, 3)];
        let mut findings = Vec::new();

        check_second_run(&files, &first, &second, &mut findings);

        assert_eq!(
            findings,
            ["migration 2 (0002_create_videos.sql) was applied only by the second run"]
        );
    }
}
