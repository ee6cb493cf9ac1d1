//! Check `migrations.stepwise`: the migrations are applied one at a time to a scratch database,
//! and after each one generated rows valid for that version are inserted. Every later
//! migration must keep the earlier rows and their values: a migration that drops a table or a
//! column holding data, deletes rows or rewrites values is reported with its version and file.
//! A renamed table or column is followed (see [`fingerprint`]). A table that the generator
//! cannot fill is a finding too, because no later migration is checked against its data.
//! It reads sqlx and Prisma Migrate folders (see [`migration_source`]).

mod allowed_values;
mod fingerprint;
mod rows;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::db_error::error_text;
use harness::deployment::Deployment;
use harness::scratch::ScratchDatabase;
use sqlx::{Connection, PgConnection};

use crate::migration_files::{MigrationFile, migration_label};
use crate::migration_source;
use crate::plural::count_noun;
use crate::redact::redact;

pub use fingerprint::compare_fingerprints;

/// Stable check name.
pub const NAME: &str = "migrations.stepwise";

/// Rows generated per table at each version: more than one, so that a change confined to some
/// rows is visible, and few, because every migration step reads them all.
const ROWS_PER_TABLE: u32 = 3;

/// Reason the check stopped before a verdict.
struct Stop(String);

/// Replays `deployment.migrations_dir` one migration at a time into a scratch database as the
/// migrator role, with generated rows at each version, and reports every migration that lost or
/// changed earlier rows.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, migrations_dir = %deployment.migrations_dir.display(), "check started");

    let mut findings = Vec::new();
    let outcome = match ScratchDatabase::create(deployment, "stepwise").await {
        Err(error) => Err(Stop(redact(deployment, &error_text(&error)))),
        Ok(database) => {
            let outcome = replay(deployment, database.name(), &mut findings).await;
            if let Err(error) = database.drop(deployment).await {
                tracing::warn!(check = NAME, error = %redact(deployment, &error_text(&error)), "dropping the scratch database failed");
            }
            outcome
        }
    };
    let result = finish(started.elapsed(), outcome, findings);

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

fn finish(
    elapsed: Duration,
    outcome: Result<(usize, u64), Stop>,
    findings: Vec<String>,
) -> CheckResult {
    match outcome {
        Err(Stop(message)) => CheckResult::error(NAME, elapsed, message),
        Ok((migrations, rows)) => CheckResult::from_findings(
            NAME,
            elapsed,
            format!(
                "{} applied one at a time; {} generated along the way kept their counts and \
                 column checksums",
                count_noun(migrations, "migration", "migrations"),
                count_noun(rows as usize, "row", "rows"),
            ),
            findings,
        ),
    }
}

/// Applies each migration, compares the data before and after it, then inserts the rows of
/// that version. Returns the number of migrations and of generated rows.
async fn replay(
    deployment: &Deployment,
    database: &str,
    findings: &mut Vec<String>,
) -> Result<(usize, u64), Stop> {
    let files = match migration_source::read_files(&deployment.migrations_dir) {
        Ok(files) => files,
        Err(error) => {
            findings.push(error.to_string());
            return Ok((0, 0));
        }
    };
    let migrator = match migration_source::migrator(&deployment.migrations_dir).await {
        Ok(migrator) => migrator,
        Err(message) => {
            findings.push(redact(deployment, &message));
            return Ok((files.len(), 0));
        }
    };

    let options = deployment.connect_options_to(&deployment.migrator, database);
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| {
            Stop(format!(
                "cannot connect to the scratch database {database} as the migrator role: {}",
                redact(deployment, &error_text(&error))
            ))
        })?;

    let mut next_row = 0;
    let mut generated = 0;
    let mut unfilled_tables = BTreeSet::new();
    let mut before = fingerprint::Fingerprint::new();
    for file in &files {
        let label = migration_label(&files, file.version);

        // Apply exactly this migration: every earlier one is already recorded.
        if let Err(error) = migrator.run_to(file.version, &mut connection).await {
            findings.push(format!(
                "{label} failed to apply on top of the rows of the earlier versions: {}",
                redact(deployment, &error_text(&error))
            ));
            break;
        }

        let after = read_fingerprint(deployment, &mut connection, &label).await?;
        findings.extend(compare_fingerprints(&label, &before, &after));

        let rows = rows::insert_generated_rows(&mut connection, ROWS_PER_TABLE, &mut next_row)
            .await
            .map_err(|error| {
                Stop(format!(
                    "generating rows valid at {label} failed: {}",
                    redact(deployment, &error_text(&error))
                ))
            })?;
        generated += rows.inserted;

        // An unfilled table usually fails again at each later version, so only its first failure
        // is reported.
        for failed in rows.failed_tables {
            if unfilled_tables.insert(failed.table.clone()) {
                findings.push(unfilled_table_finding(deployment, &label, &failed));
            }
        }
        before = read_fingerprint(deployment, &mut connection, &label).await?;
        log_step(file, &before);
    }

    // Without any generated row, no migration was compared against data, so a pass would
    // claim a check that never happened.
    if generated == 0 && !before.is_empty() {
        let tables: Vec<&str> = before.keys().map(String::as_str).collect();
        findings.push(format!(
            "no row was generated although {} ({}), so no migration was checked against data. \
             The other findings say why each table stayed empty",
            count_noun(tables.len(), "table exists", "tables exist"),
            tables.join(", ")
        ));
    }

    if let Err(error) = connection.close().await {
        tracing::debug!(check = NAME, %error, "closing the scratch database connection failed");
    }
    Ok((files.len(), generated))
}

fn unfilled_table_finding(
    deployment: &Deployment,
    label: &str,
    failed: &rows::FailedTable,
) -> String {
    let consequence = match failed.inserted {
        0 => "so no later migration is checked against its data".to_owned(),
        inserted => format!(
            "so later migrations are checked against only the {inserted} rows inserted before \
             the failure"
        ),
    };
    format!(
        "cannot generate rows for table {} at {label}, {consequence}: {}",
        failed.table,
        redact(deployment, &error_text(&failed.error))
    )
}

async fn read_fingerprint(
    deployment: &Deployment,
    connection: &mut PgConnection,
    label: &str,
) -> Result<fingerprint::Fingerprint, Stop> {
    fingerprint::read_fingerprint(connection)
        .await
        .map_err(|error| {
            Stop(format!(
                "reading the data fingerprint after {label} failed: {}",
                redact(deployment, &error_text(&error))
            ))
        })
}

fn log_step(file: &MigrationFile, fingerprint: &fingerprint::Fingerprint) {
    let rows: i64 = fingerprint.values().map(|table| table.rows).sum();
    tracing::debug!(
        check = NAME,
        version = file.version,
        file = %file.file_name,
        tables = fingerprint.len(),
        rows,
        "migration applied and rows generated"
    );
}

/// Quotes an identifier for SQL, doubling any `"` inside it.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQL condition on `pg_namespace n` and `pg_class c` that selects the ordinary and partitioned
/// tables that the check fills and fingerprints: every table outside the system schemas, except
/// partitions, whose rows their parent table already shows, and sqlx's `_sqlx_migrations`.
const USER_TABLES_SQL: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
     AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> '_sqlx_migrations'";

/// Returns the SQL expression for the name of table `class` in schema `namespace` (aliases of
/// `pg_class` and `pg_namespace`) as findings show it: `notes` in schema `public`, `side.notes`
/// elsewhere, each part quoted by `quote_ident` where SQL needs it.
fn table_name_sql(namespace: &str, class: &str) -> String {
    format!(
        "CASE WHEN {namespace}.nspname = 'public' THEN quote_ident({class}.relname) \
         ELSE quote_ident({namespace}.nspname) || '.' || quote_ident({class}.relname) END"
    )
}

/// Returns the SQL expression for the schema-qualified, quoted name of table `class` in schema
/// `namespace`, which names the table in SQL whatever the `search_path`.
fn qualified_name_sql(namespace: &str, class: &str) -> String {
    format!("quote_ident({namespace}.nspname) || '.' || quote_ident({class}.relname)")
}
