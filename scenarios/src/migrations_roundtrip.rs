//! Check `migrations.roundtrip`: where migrations have down files (`.down.sql`), applying them
//! up, then down, then up again gives the same schema, and each down migration restores the
//! schema from before its migration. Without down files the check reports a skip with that
//! reason.
//!
//! sqlx 0.9 reverts from the newest migration down, and `Migrator::undo` passes over a
//! migration without a down file, so the check exercises the newest run of consecutive
//! reversible migrations.

use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::db_error::error_text;
use harness::deployment::Deployment;
use harness::scratch::ScratchDatabase;
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

use crate::redact::redact;
use crate::schema::describe_schema;
use crate::schema_diff::{Sides, diff_schemas};

/// Stable check name.
pub const NAME: &str = "migrations.roundtrip";

/// Reason the check stopped before a verdict.
struct Stop(String);

/// Migrations that the round trip covers.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// No migration has a down file.
    NoDownMigrations,
    /// The newest migration has no down file, so none of the down files can run first.
    NewestNotReversible { newest: i64 },
    /// The reversible versions at the top, oldest first, and down files below them that the
    /// round trip cannot reach.
    Reversible {
        versions: Vec<i64>,
        unreachable: Vec<i64>,
    },
}

/// Runs the round trip of the reversible migrations of `deployment.migrations_dir` in a scratch
/// database as the migrator role.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, migrations_dir = %deployment.migrations_dir.display(), "check started");

    let result = check(deployment, started).await;

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(deployment: &Deployment, started: Instant) -> CheckResult {
    let dir = &deployment.migrations_dir;
    let migrator = match Migrator::new(dir.as_path()).await {
        Ok(migrator) => migrator,
        Err(error) => {
            return CheckResult::from_findings(
                NAME,
                started.elapsed(),
                "",
                vec![format!(
                    "sqlx cannot read the migrations in {}: {}",
                    dir.display(),
                    redact(deployment, &error_text(&error))
                )],
            );
        }
    };

    let (versions, unreachable) = match plan(&migrator) {
        Plan::NoDownMigrations => {
            return CheckResult::skipped(
                NAME,
                started.elapsed(),
                format!(
                    "skipped: no down migrations (.down.sql files) in {}",
                    dir.display()
                ),
            );
        }
        Plan::NewestNotReversible { newest } => {
            return CheckResult::from_findings(
                NAME,
                started.elapsed(),
                "",
                vec![format!(
                    "migration {newest} has no down file, so no down migration below it can run: \
                     sqlx reverts from the newest migration; add {newest}'s down file or remove \
                     the others"
                )],
            );
        }
        Plan::Reversible {
            versions,
            unreachable,
        } => (versions, unreachable),
    };

    let mut findings = Vec::new();
    let outcome = match ScratchDatabase::create(deployment, "roundtrip").await {
        Err(error) => Err(Stop(redact(deployment, &error_text(&error)))),
        Ok(database) => {
            let outcome = round_trip(
                deployment,
                &migrator,
                database.name(),
                &versions,
                &mut findings,
            )
            .await;
            if let Err(error) = database.drop(deployment).await {
                tracing::warn!(check = NAME, error = %redact(deployment, &error_text(&error)), "dropping the scratch database failed");
            }
            outcome
        }
    };
    finish(
        started.elapsed(),
        outcome,
        &versions,
        &unreachable,
        findings,
    )
}

fn finish(
    elapsed: Duration,
    outcome: Result<(), Stop>,
    versions: &[i64],
    unreachable: &[i64],
    findings: Vec<String>,
) -> CheckResult {
    if let Err(Stop(message)) = outcome {
        return CheckResult::error(NAME, elapsed, message);
    }
    let mut message = format!(
        "migrations {} went up, down and up again with identical schemas, and each down \
         migration restored the schema from before its migration",
        join(versions)
    );
    if !unreachable.is_empty() {
        message.push_str(&format!(
            "; the down files of {} sit below a migration without one and were not run",
            join(unreachable)
        ));
    }
    CheckResult::from_findings(NAME, elapsed, message, findings)
}

fn plan(migrator: &Migrator) -> Plan {
    let mut ups: Vec<i64> = migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .collect();
    ups.sort_unstable();
    let downs: Vec<i64> = migrator
        .iter()
        .filter(|migration| migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .collect();
    if downs.is_empty() {
        return Plan::NoDownMigrations;
    }

    let mut versions: Vec<i64> = ups
        .iter()
        .rev()
        .take_while(|version| downs.contains(version))
        .copied()
        .collect();
    versions.reverse();
    match versions.first() {
        None => Plan::NewestNotReversible {
            newest: *ups.last().unwrap_or(&0),
        },
        Some(lowest) => {
            let mut unreachable: Vec<i64> = downs
                .iter()
                .filter(|version| *version < lowest)
                .copied()
                .collect();
            unreachable.sort_unstable();
            Plan::Reversible {
                versions,
                unreachable,
            }
        }
    }
}

/// Applies everything below the reversible migrations, then each reversible migration with the
/// schema after it, reverts them one at a time comparing with the schema before each, and
/// applies them all again comparing with the first up.
async fn round_trip(
    deployment: &Deployment,
    migrator: &Migrator,
    database: &str,
    versions: &[i64],
    findings: &mut Vec<String>,
) -> Result<(), Stop> {
    let below = versions[0] - 1;
    let options = deployment.connect_options_to(&deployment.migrator, database);
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| {
            Stop(format!(
                "cannot connect to the scratch database {database} as the migrator role: {}",
                redact(deployment, &error_text(&error))
            ))
        })?;
    let migrate_failed = |step: String, error: sqlx::migrate::MigrateError| {
        format!("{step} failed: {}", redact(deployment, &error_text(&error)))
    };

    // Up, one migration at a time: schemas[i] is the schema before versions[i].
    if let Err(error) = migrator.run_to(below, &mut connection).await {
        findings.push(migrate_failed(
            format!("applying the migrations below {}", versions[0]),
            error,
        ));
        return Ok(());
    }
    let mut schemas = vec![describe(deployment, &mut connection).await?];
    for version in versions {
        if let Err(error) = migrator.run_to(*version, &mut connection).await {
            findings.push(migrate_failed(
                format!("the first up of migration {version}"),
                error,
            ));
            return Ok(());
        }
        schemas.push(describe(deployment, &mut connection).await?);
    }

    // Down, one migration at a time, newest first.
    for (index, version) in versions.iter().enumerate().rev() {
        let target = if index == 0 {
            below
        } else {
            versions[index - 1]
        };
        if let Err(error) = migrator.undo(&mut connection, target).await {
            findings.push(migrate_failed(
                format!("the down migration of {version}"),
                error,
            ));
            return Ok(());
        }
        let reverted = describe(deployment, &mut connection).await?;
        let expected = format!("the schema before migration {version}");
        let actual = format!("the schema after reverting migration {version}");
        findings.extend(
            diff_schemas(
                &schemas[index],
                &reverted,
                Sides {
                    expected: &expected,
                    actual: &actual,
                },
            )
            .into_iter()
            .map(|difference| {
                format!("the down migration of {version} is incomplete: {difference}")
            }),
        );
    }

    // Up again: the same schema as the first time.
    if let Err(error) = migrator.run(&mut connection).await {
        findings.push(migrate_failed(
            "the second up, after the down migrations".to_owned(),
            error,
        ));
        return Ok(());
    }
    let up_again = describe(deployment, &mut connection).await?;
    let first_up = schemas.last().map(String::as_str).unwrap_or_default();
    findings.extend(
        diff_schemas(
            first_up,
            &up_again,
            Sides {
                expected: "the schema after the first up",
                actual: "the schema after down and up again",
            },
        )
        .into_iter()
        .map(|difference| format!("up after down differs: {difference}")),
    );

    if let Err(error) = connection.close().await {
        tracing::debug!(check = NAME, %error, "closing the scratch database connection failed");
    }
    Ok(())
}

async fn describe(deployment: &Deployment, connection: &mut PgConnection) -> Result<String, Stop> {
    describe_schema(connection).await.map_err(|error| {
        Stop(format!(
            "reading the schema failed: {}",
            redact(deployment, &error_text(&error))
        ))
    })
}

fn join(versions: &[i64]) -> String {
    let texts: Vec<String> = versions.iter().map(i64::to_string).collect();
    texts.join(", ")
}

#[cfg(test)]
mod tests {
    use sqlx::migrate::{Migration, MigrationType};

    use super::*;

    fn migrator(migrations: &[(i64, MigrationType)]) -> Migrator {
        Migrator::with_migrations(
            migrations
                .iter()
                .map(|(version, kind)| {
                    Migration::new(
                        *version,
                        format!("step {version}").into(),
                        *kind,
                        sqlx::SqlSafeStr::into_sql_str("SELECT 1"),
                        false,
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn plan_without_down_files_skips() {
        let migrator = migrator(&[(1, MigrationType::Simple), (2, MigrationType::Simple)]);

        assert_eq!(plan(&migrator), Plan::NoDownMigrations);
    }

    #[test]
    fn plan_takes_reversible_top() {
        let migrator = migrator(&[
            (1, MigrationType::ReversibleUp),
            (1, MigrationType::ReversibleDown),
            (2, MigrationType::Simple),
            (3, MigrationType::ReversibleUp),
            (3, MigrationType::ReversibleDown),
            (4, MigrationType::ReversibleUp),
            (4, MigrationType::ReversibleDown),
        ]);

        assert_eq!(
            plan(&migrator),
            Plan::Reversible {
                versions: vec![3, 4],
                unreachable: vec![1],
            }
        );
    }

    #[test]
    fn plan_newest_without_down_file() {
        let migrator = migrator(&[
            (1, MigrationType::ReversibleUp),
            (1, MigrationType::ReversibleDown),
            (2, MigrationType::Simple),
        ]);

        assert_eq!(plan(&migrator), Plan::NewestNotReversible { newest: 2 });
    }
}
