//! Scratch databases: empty databases on the run's Postgres, set up like the application
//! database by the bootstrap, for checks that apply a migrations folder of their own (one
//! migration at a time, a fixture folder) without touching the database the app uses.

use std::time::Instant;

use rand::distr::{Alphanumeric, SampleString};
use sqlx::postgres::PgConnection;

use crate::deployment::{APP_ROLE, AUDITOR_ROLE, Deployment, MIGRATOR_ROLE};
use crate::error::{Error, Result};
use crate::postgres::MAINTENANCE_DATABASE;
use crate::superuser;

/// An empty database owned by lv_migrator. Remove it with [`ScratchDatabase::drop`].
#[derive(Debug)]
pub struct ScratchDatabase {
    name: String,
}

impl ScratchDatabase {
    /// Creates `localizevideos_<prefix>_<random>` owned by lv_migrator, with the bootstrap's
    /// database and schema grants: PUBLIC has no privilege, lv_app and lv_auditor have CONNECT
    /// and USAGE on schema `public`. `prefix` must consist of lowercase letters, digits and
    /// underscores.
    pub async fn create(deployment: &Deployment, prefix: &str) -> Result<Self> {
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Error::Usage(format!(
                "invalid scratch database prefix {prefix:?}: use lowercase letters, digits and \
                 underscores"
            )));
        }
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 8)
            .to_ascii_lowercase();
        let name = format!("localizevideos_{prefix}_{suffix}");
        let started = Instant::now();

        // CREATE DATABASE cannot run inside a transaction, so each statement goes on its own.
        let mut server = superuser_connection(deployment, MAINTENANCE_DATABASE).await?;
        for statement in [
            format!("CREATE DATABASE \"{name}\" OWNER {MIGRATOR_ROLE}"),
            format!("REVOKE ALL ON DATABASE \"{name}\" FROM PUBLIC"),
            format!("GRANT CONNECT ON DATABASE \"{name}\" TO {APP_ROLE}, {AUDITOR_ROLE}"),
        ] {
            execute(&mut server, statement).await?;
        }
        close(server).await;

        let mut database = superuser_connection(deployment, &name).await?;
        for statement in [
            format!("ALTER SCHEMA public OWNER TO {MIGRATOR_ROLE}"),
            "REVOKE ALL ON SCHEMA public FROM PUBLIC".to_owned(),
            format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {AUDITOR_ROLE}"),
        ] {
            execute(&mut database, statement).await?;
        }
        close(database).await;

        tracing::info!(database = %name, elapsed = ?started.elapsed(), "scratch database created");
        Ok(Self { name })
    }

    /// Returns the database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, ending the sessions still connected to it (`WITH (FORCE)`,
    /// PostgreSQL 13 and later).
    pub async fn drop(self, deployment: &Deployment) -> Result<()> {
        let mut server = superuser_connection(deployment, MAINTENANCE_DATABASE).await?;
        execute(
            &mut server,
            format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name),
        )
        .await?;
        close(server).await;
        tracing::info!(database = %self.name, "scratch database dropped");
        Ok(())
    }
}

fn scratch_error(step: String, source: sqlx::Error) -> Error {
    Error::ScratchDatabase { step, source }
}

async fn superuser_connection(deployment: &Deployment, database: &str) -> Result<PgConnection> {
    superuser::connect(deployment, database, scratch_error).await
}

async fn execute(connection: &mut PgConnection, statement: String) -> Result<()> {
    superuser::execute(connection, statement, scratch_error).await
}

async fn close(connection: PgConnection) {
    superuser::close(connection, "scratch database").await;
}
