//! The template database: a database migrated once per run, from which each test gets a clone
//! of its own with `CREATE DATABASE ... TEMPLATE`, so that migrations never run per test.
//!
//! PostgreSQL copies a template file by file, so a clone costs milliseconds, but only while no
//! session is connected to the template: CREATE DATABASE fails with "source database is being
//! accessed by other users" otherwise (PostgreSQL 15, CREATE DATABASE). After migrating, the
//! harness therefore marks the template `ALLOW_CONNECTIONS false`, so no one can connect to it.
//!
//! Database-level privileges are not copied (they live in `pg_database`, not in the copied
//! files), so each clone gets the bootstrap's database grants again. Schema and table grants
//! are inside the copied catalogs and come with the clone.

use std::time::Instant;

use rand::distr::{Alphanumeric, SampleString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnection, PgPoolOptions};

use crate::deployment::{APP_ROLE, AUDITOR_ROLE, Deployment, MIGRATOR_ROLE};
use crate::error::{Error, Result};
use crate::postgres::MAINTENANCE_DATABASE;
use crate::superuser;

/// Name of the template database of a run.
pub const TEMPLATE_DATABASE: &str = "localizevideos_template";

/// A migrated template database that accepts no connections.
#[derive(Debug)]
pub struct TemplateDatabase {
    name: String,
    migrations: usize,
}

/// A database cloned from the template for one test. Remove it with [`DatabaseClone::drop`].
#[derive(Debug)]
pub struct DatabaseClone {
    name: String,
}

impl TemplateDatabase {
    /// Creates the template database owned by lv_migrator, gives it the bootstrap's schema
    /// grants, applies `deployment.migrations_dir` as lv_migrator, and closes it to
    /// connections. Call it once per run.
    pub async fn create(deployment: &Deployment) -> Result<Self> {
        Self::create_named(deployment, TEMPLATE_DATABASE).await
    }

    /// Creates a template database named `name` from `deployment.migrations_dir`, as
    /// [`TemplateDatabase::create`] does. A run can hold several templates this way, such as
    /// one per migrations folder. `name` must consist of lowercase letters, digits and
    /// underscores.
    pub async fn create_named(deployment: &Deployment, name: &str) -> Result<Self> {
        check_identifier("template database name", name)?;
        let started = Instant::now();
        let name = name.to_owned();

        let mut server = superuser_connection(deployment, MAINTENANCE_DATABASE).await?;
        execute(
            &mut server,
            format!("CREATE DATABASE \"{name}\" OWNER {MIGRATOR_ROLE}"),
        )
        .await?;
        execute(
            &mut server,
            format!("REVOKE ALL ON DATABASE \"{name}\" FROM PUBLIC"),
        )
        .await?;

        // The same schema privileges as the application database, so that clones carry them.
        let mut template = superuser_connection(deployment, &name).await?;
        for statement in [
            format!("ALTER SCHEMA public OWNER TO {MIGRATOR_ROLE}"),
            "REVOKE ALL ON SCHEMA public FROM PUBLIC".to_owned(),
            format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {AUDITOR_ROLE}"),
        ] {
            execute(&mut template, statement).await?;
        }
        close(template).await;

        let migrations = migrate(deployment, &name).await?;

        execute(
            &mut server,
            format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"),
        )
        .await?;
        close(server).await;

        tracing::info!(
            database = %name,
            migrations,
            elapsed = ?started.elapsed(),
            "template database created and migrated"
        );
        Ok(Self { name, migrations })
    }

    /// Returns the template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns how many migrations were applied to the template.
    pub fn migrations(&self) -> usize {
        self.migrations
    }

    /// Creates a clone named `localizevideos_<prefix>_<random>` owned by lv_migrator, where
    /// lv_app and lv_auditor may connect and PUBLIC may not. `prefix` must consist of
    /// lowercase letters, digits and underscores.
    pub async fn clone_database(
        &self,
        deployment: &Deployment,
        prefix: &str,
    ) -> Result<DatabaseClone> {
        let mut server = connect_server(deployment).await?;
        let clone = self.clone_on(&mut server, prefix).await;
        close(server).await;
        clone
    }

    /// Creates a clone as [`TemplateDatabase::clone_database`] does, on an open superuser
    /// connection to the maintenance database from [`connect_server`]. Reusing one connection
    /// saves the connection setup and SCRAM authentication of each clone.
    pub async fn clone_on(&self, server: &mut PgConnection, prefix: &str) -> Result<DatabaseClone> {
        check_identifier("clone prefix", prefix)?;
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 8)
            .to_ascii_lowercase();
        let name = format!("localizevideos_{prefix}_{suffix}");
        let started = Instant::now();

        // CREATE DATABASE cannot run inside a transaction, so it goes on its own. The two
        // grants go in one query string, which Postgres runs as one transaction: one round
        // trip and one commit, whose WAL flush is a disk sync under durable settings.
        execute(
            server,
            format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\" OWNER {MIGRATOR_ROLE}",
                self.name
            ),
        )
        .await?;
        execute(
            server,
            format!(
                "REVOKE ALL ON DATABASE \"{name}\" FROM PUBLIC; \
                 GRANT CONNECT ON DATABASE \"{name}\" TO {APP_ROLE}, {AUDITOR_ROLE}"
            ),
        )
        .await?;

        tracing::info!(
            database = %name,
            template = %self.name,
            elapsed = ?started.elapsed(),
            "database cloned from the template"
        );
        Ok(DatabaseClone { name })
    }
}

impl DatabaseClone {
    /// Returns the clone's name, the app's DB_NAME.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the clone, ending the sessions still connected to it (`WITH (FORCE)`,
    /// PostgreSQL 13 and later).
    pub async fn drop(self, deployment: &Deployment) -> Result<()> {
        let mut server = superuser_connection(deployment, MAINTENANCE_DATABASE).await?;
        execute(
            &mut server,
            format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name),
        )
        .await?;
        close(server).await;
        tracing::info!(database = %self.name, "database clone dropped");
        Ok(())
    }
}

/// Creates an empty database `name` owned by lv_migrator and applies every migration of
/// `deployment.migrations_dir` to it, which is what `#[sqlx::test]` does for each test (sqlx
/// 0.9). It is the baseline that clones of a template are measured against. `name` must
/// consist of lowercase letters, digits and underscores.
pub async fn create_and_migrate(deployment: &Deployment, name: &str) -> Result<DatabaseClone> {
    check_identifier("database name", name)?;
    let mut server = superuser_connection(deployment, MAINTENANCE_DATABASE).await?;
    execute(
        &mut server,
        format!("CREATE DATABASE \"{name}\" OWNER {MIGRATOR_ROLE}"),
    )
    .await?;
    close(server).await;

    migrate(deployment, name).await?;
    Ok(DatabaseClone {
        name: name.to_owned(),
    })
}

/// Accepts a non-empty `value` of lowercase ASCII letters, digits and underscores, which is
/// safe to quote as a Postgres identifier without escaping.
pub(crate) fn check_identifier(what: &str, value: &str) -> Result<()> {
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid {what} {value:?}: use lowercase letters, digits and underscores"
        )))
    }
}

/// Applies the migrations to `database` as lv_migrator and returns how many the folder holds.
async fn migrate(deployment: &Deployment, database: &str) -> Result<usize> {
    let dir = deployment.migrations_dir.clone();
    let failure = |source| Error::Migrate {
        dir: dir.clone(),
        source,
    };

    let migrator = Migrator::new(dir.as_path()).await.map_err(failure)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(deployment.connect_options_to(&deployment.migrator, database))
        .await
        .map_err(|error| failure(sqlx::migrate::MigrateError::Execute(error)))?;
    let result = migrator.run(&pool).await.map_err(failure);
    // The pool must be closed before the template is closed to connections and cloned.
    pool.close().await;
    result?;
    Ok(migrator.iter().count())
}

/// Opens a superuser connection to the maintenance database, where clones are created.
pub async fn connect_server(deployment: &Deployment) -> Result<PgConnection> {
    superuser_connection(deployment, MAINTENANCE_DATABASE).await
}

fn template_error(step: String, source: sqlx::Error) -> Error {
    Error::TemplateDatabase { step, source }
}

async fn superuser_connection(deployment: &Deployment, database: &str) -> Result<PgConnection> {
    superuser::connect(deployment, database, template_error).await
}

async fn execute(connection: &mut PgConnection, statement: String) -> Result<()> {
    superuser::execute(connection, statement, template_error).await
}

async fn close(connection: PgConnection) {
    superuser::close(connection, "template database").await;
}
