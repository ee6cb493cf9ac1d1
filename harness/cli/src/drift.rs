//! `harness drift`: compares a live database's schema and migration ledger (`_sqlx_migrations`,
//! or `_prisma_migrations` for a Prisma Migrate folder) with what replaying the migrations
//! folder produces, and reports every difference as an untracked change.
//!
//! The live database is only read: the session starts with `default_transaction_read_only`
//! on, every read runs in one `REPEATABLE READ, READ ONLY` transaction that is rolled back, and
//! the command stops before reading when Postgres does not report the transaction as read-only.
//! The reference schema comes from a harness run: a fresh Postgres container, the bootstrap's
//! roles and the migrations applied as lv_migrator. Owners, grants and role attributes are
//! compared by role name. A live database whose roles are not named like the harness's
//! (lv_migrator, lv_app, lv_auditor) shows its owners and grants as changes. So does one whose
//! roles differ from the bootstrap's attributes: LOGIN, INHERIT, none of SUPERUSER, CREATEDB,
//! CREATEROLE, REPLICATION or BYPASSRLS, no connection limit and no expiry.
//!
//! A Prisma Migrate folder is replayed with sqlx's migrator, so the reference records it in
//! `_sqlx_migrations`. Both ledger tables are then left out of the schema comparison, and the
//! live `_prisma_migrations` rows are compared with the folder instead.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use harness::config::Config;
use harness::db_error::error_text;
use harness::durability::Durability;
use harness::labels::RunId;
use harness::postgres::DataFolder;
use harness::run::{Run, RunOptions};
use harness::secret::Secret;
use harness::signals;
use scenarios::database_access::describe_database_access;
use scenarios::migration_files::{MigrationFile, migration_label};
use scenarios::migration_source::{self, SourceKind};
use scenarios::migrations_tamper::{LedgerRow, compare_ledger};
use scenarios::schema::describe_schema;
use scenarios::schema_diff::{DRIFT_SIDES, diff_schemas, remove_object};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::preflight::check_inputs;
use crate::validate::interrupted;
use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_PASS, print_error};

/// Schema description and ledger read from the live database.
struct LiveDatabase {
    schema: String,
    /// `None` when the database has no ledger table.
    ledger: Option<Vec<LedgerRow>>,
}

/// The live database's address without its password, for messages.
struct Target {
    options: PgConnectOptions,
    address: String,
}

/// Runs `harness drift` and returns the exit status: 0 no drift, 1 drift, 2 usage or
/// environment error.
pub async fn drift(database_url: String, migrations: Option<PathBuf>) -> u8 {
    // Register the password before anything can print the URL or a driver error.
    let target = match parse_target(&database_url) {
        Ok(target) => target,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    let given = migrations.is_some();
    let migrations_dir = migrations.unwrap_or_else(|| config.migrations_dir());
    if given && !migrations_dir.is_dir() {
        let problem = match migrations_dir.exists() {
            true => "is not a folder",
            false => "does not exist",
        };
        print_error(&format!(
            "--migrations {} {problem}; give the folder of the migrations to replay, such as \
             migrations/ or prisma/migrations/",
            migrations_dir.display()
        ));
        return EXIT_ENVIRONMENT;
    }
    if let Err(message) = check_inputs(&migrations_dir, None) {
        print_error(&message);
        return EXIT_ENVIRONMENT;
    }
    let kind = migration_source::detect(&migrations_dir);
    let files = match migration_source::read_files(&migrations_dir) {
        Ok(files) => files,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };

    // The live database first: a wrong URL fails before any container starts.
    let live = match read_live(&target, kind).await {
        Ok(live) => live,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };

    let run_id = RunId::generate();
    let mut reference = Box::pin(reference_schema(config, run_id.clone(), &migrations_dir));
    let reference = tokio::select! {
        reference = &mut reference => reference,
        signal = signals::interrupted() => {
            eprintln!(
                "interrupted by {signal}: removing the containers and network of run {run_id}"
            );
            drop(reference);
            return interrupted(signal, &run_id).await;
        }
    };
    let reference = match reference {
        Ok(reference) => reference,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };

    let (reference, live_schema) = match kind {
        SourceKind::Sqlx => (reference, live.schema),
        SourceKind::Prisma => (
            remove_object(&reference, "table _sqlx_migrations"),
            remove_object(&live.schema, "table _prisma_migrations"),
        ),
    };
    let mut changes = diff_schemas(&reference, &live_schema, DRIFT_SIDES);
    changes.extend(ledger_changes(
        &migrations_dir,
        kind,
        &files,
        live.ledger.as_deref(),
    ));

    let migrations = match files.len() {
        1 => "the 1 migration".to_owned(),
        count => format!("the {count} migrations"),
    };
    println!(
        "compared {} with the schema that {migrations} in {} {}",
        target.address,
        migrations_dir.display(),
        if files.len() == 1 {
            "produces"
        } else {
            "produce"
        }
    );
    for change in &changes {
        println!("untracked change: {}", harness::redact::redact(change));
    }
    if changes.is_empty() {
        println!("no drift");
        EXIT_PASS
    } else {
        let plural = if changes.len() == 1 { "" } else { "s" };
        println!("{} untracked change{plural}", changes.len());
        EXIT_FAIL
    }
}

/// Parses the URL, registers its password with the redaction, and returns the connect options
/// with `default_transaction_read_only` on.
fn parse_target(database_url: &str) -> Result<Target, String> {
    let url = url::Url::parse(database_url).map_err(|error| {
        format!(
            "invalid --database-url {}: {error}; expected \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            harness::redact::redact(database_url)
        )
    })?;
    if let Some(password) = url.password() {
        harness::redact::register(&Secret::new(password));
        let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
        harness::redact::register(&Secret::new(decoded.into_owned()));
    }
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "invalid --database-url scheme {:?}: expected postgres:// or postgresql://",
            url.scheme()
        ));
    }

    let options = PgConnectOptions::from_str(database_url).map_err(|error| {
        format!(
            "invalid --database-url {}: {}",
            harness::redact::redact(database_url),
            harness::redact::redact(&error_text(&error))
        )
    })?;
    let address = format!(
        "database {} on {}:{} as {}",
        options.get_database().unwrap_or("(default)"),
        options.get_host(),
        options.get_port(),
        options.get_username()
    );
    let options = options
        .options([("default_transaction_read_only", "on")])
        .application_name("harness drift")
        .disable_statement_logging();
    Ok(Target { options, address })
}

/// Reads the schema description and the ledger inside one read-only transaction, which is
/// rolled back.
async fn read_live(target: &Target, kind: SourceKind) -> Result<LiveDatabase, String> {
    let address = &target.address;
    let failed = |step: &str, error: sqlx::Error| {
        harness::redact::redact(&format!(
            "{step} on {address} failed: {}",
            error_text(&error)
        ))
    };

    let mut connection = PgConnection::connect_with(&target.options)
        .await
        .map_err(|error| {
            harness::redact::redact(&format!(
                "connecting to {address} failed: {}",
                error_text(&error)
            ))
        })?;

    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION READ ONLY")
        .execute(&mut connection)
        .await
        .map_err(|error| {
            format!(
                "{}; refusing to read without a read-only transaction",
                failed("opening a read-only transaction", error)
            )
        })?;
    let (read_only,): (String,) = sqlx::query_as("SHOW transaction_read_only")
        .fetch_one(&mut connection)
        .await
        .map_err(|error| failed("SHOW transaction_read_only", error))?;
    if read_only != "on" {
        return Err(format!(
            "the transaction on {address} is not read-only (transaction_read_only = \
             {read_only}); refusing to read"
        ));
    }

    let schema = describe_for_drift(&mut connection)
        .await
        .map_err(|error| failed("reading the schema", error))?;
    let ledger = migration_source::read_source_ledger(kind, &mut connection)
        .await
        .map_err(|error| failed(&format!("reading {}", kind.ledger_table()), error))?;

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut connection)
        .await
        .map_err(|error| failed("ending the read-only transaction", error))?;
    if let Err(error) = connection.close().await {
        tracing::debug!(error = %harness::redact::redact(&error_text(&error)), "closing the live connection failed");
    }
    Ok(LiveDatabase { schema, ledger })
}

/// Starts a harness run, applies the migrations to its fresh database and returns the schema
/// description, read as lv_auditor like the live one.
async fn reference_schema(
    config: Config,
    run_id: RunId,
    migrations_dir: &Path,
) -> Result<String, String> {
    // The reference database is thrown away after one read, so its durability is not under
    // test: Postgres may skip its syncs to disk and keep its data in memory.
    let options = RunOptions {
        run_id: Some(run_id),
        migrations_dir: Some(migrations_dir.to_owned()),
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    };
    let run = Run::start_with_config(config, options)
        .await
        .map_err(|error| format!("starting the reference database failed: {error}"))?;

    let described = describe_reference(&run, migrations_dir).await;
    let shutdown = run.shutdown().await;
    let schema = described?;
    shutdown.map_err(|error| {
        format!("removing the reference run's containers and network failed: {error}")
    })?;
    Ok(schema)
}

async fn describe_reference(run: &Run, migrations_dir: &Path) -> Result<String, String> {
    let deployment = run.deployment();
    let migrator = migration_source::migrator(migrations_dir).await?;
    let mut migrator_connection =
        PgConnection::connect_with(&deployment.connect_options(&deployment.migrator))
            .await
            .map_err(|error| format!("connecting to the reference database failed: {error}"))?;
    migrator
        .run(&mut migrator_connection)
        .await
        .map_err(|error| format!("replaying the migrations failed: {error}"))?;
    if let Err(error) = migrator_connection.close().await {
        tracing::debug!(%error, "closing the reference connection failed");
    }

    let mut connection =
        PgConnection::connect_with(&deployment.connect_options(&deployment.auditor))
            .await
            .map_err(|error| format!("connecting to the reference database failed: {error}"))?;
    let schema = describe_for_drift(&mut connection)
        .await
        .map_err(|error| format!("reading the reference schema failed: {error}"))?;
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing the reference connection failed");
    }
    Ok(schema)
}

/// Describes what drift compares: the schemas, then the database's owner and grants and the
/// roles it refers to, which `describe_schema` leaves out because migrations do not set them.
async fn describe_for_drift(connection: &mut PgConnection) -> Result<String, sqlx::Error> {
    let mut description = describe_schema(connection).await?;
    description.push_str(&describe_database_access(connection).await?);
    Ok(description)
}

/// Lists the ledger's disagreements with the files, and the migrations not applied to the live
/// database.
fn ledger_changes(
    dir: &Path,
    kind: SourceKind,
    files: &[MigrationFile],
    ledger: Option<&[LedgerRow]>,
) -> Vec<String> {
    let table = kind.ledger_table();
    let Some(rows) = ledger else {
        return vec![format!(
            "the live database has no {table} table, so no migration of this folder was \
             recorded in it"
        )];
    };
    let mut changes: Vec<String> = compare_ledger(dir, table, files, rows)
        .into_iter()
        .map(|finding| format!("{table}: {finding}"))
        .collect();
    let highest = rows.iter().map(|row| row.version).max().unwrap_or(i64::MIN);
    for file in files {
        if file.version > highest {
            changes.push(format!(
                "{table}: {} is not applied to the live database",
                migration_label(files, file.version)
            ));
        }
    }
    changes
}
