//! The deployment a check receives: the app's and Postgres's addresses, and the roles to use.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::http::ResponseLog;
use crate::secret::Secret;

/// Name of the application database.
pub const DATABASE: &str = "localizevideos";
/// Role that owns the schema and applies migrations.
pub const MIGRATOR_ROLE: &str = "lv_migrator";
/// Login role the app connects as: DML grants only.
pub const APP_ROLE: &str = "lv_app";
/// Read-only role the checks use to read the database directly.
pub const AUDITOR_ROLE: &str = "lv_auditor";

/// A login role and its password.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Role name.
    pub role: String,
    /// Role password, unique to the run.
    pub password: Secret,
}

/// A running Postgres and app, as seen from the harness.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Base URL of the app, such as `http://127.0.0.1:49153`, without a trailing slash.
    pub app_url: String,
    /// Host the harness reaches Postgres on: `127.0.0.1`, or the container's address on the run
    /// network in the production-like topology.
    pub postgres_host: String,
    /// Port the harness reaches Postgres on: the host port mapped to the container's 5432, or
    /// 5432 itself in the production-like topology. Re-read after every start.
    pub postgres_port: u16,
    /// The bootstrap superuser (POSTGRES_USER of the image).
    pub superuser: Credentials,
    /// Owner of the schema.
    pub migrator: Credentials,
    /// The app's login role.
    pub app: Credentials,
    /// Read-only role for direct reads.
    pub auditor: Credentials,
    /// The migrations folder the database was built from.
    pub migrations_dir: PathBuf,
    /// Every response the harness's [`AppClient`](crate::http::AppClient)s received in this
    /// run, shared by all clones of the deployment.
    pub responses: ResponseLog,
    /// Credentials that a rotation replaced, shared by all clones of the deployment. Their
    /// passwords are still secrets: leak scans look for them and redaction removes them.
    pub retired: RetiredCredentials,
}

/// The credentials a rotation replaced, oldest first.
#[derive(Clone, Debug, Default)]
pub struct RetiredCredentials(Arc<Mutex<Vec<Credentials>>>);

impl RetiredCredentials {
    /// Adds credentials that are no longer in use.
    pub fn push(&self, credentials: Credentials) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(credentials);
    }

    /// Returns every retired credential, oldest first.
    pub fn all(&self) -> Vec<Credentials> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Deployment {
    /// Connect options for `credentials` on the application database.
    ///
    /// NOTE: `PgConnectOptions` prints its password when Debug-formatted
    /// (sqlx 0.9); never format the returned value.
    pub fn connect_options(&self, credentials: &Credentials) -> PgConnectOptions {
        self.connect_options_to(credentials, DATABASE)
    }

    /// Connect options for `credentials` on `database`, such as a clone of the template
    /// database. The same NOTE as for [`Deployment::connect_options`] applies.
    pub fn connect_options_to(
        &self,
        credentials: &Credentials,
        database: &str,
    ) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.postgres_host)
            .port(self.postgres_port)
            .database(database)
            .username(&credentials.role)
            .password(credentials.password.expose())
    }

    /// Opens a small pool as `credentials`.
    pub async fn pool(&self, credentials: &Credentials) -> Result<PgPool, sqlx::Error> {
        self.pool_on(credentials, DATABASE).await
    }

    /// Opens a small pool as `credentials` on `database`.
    pub async fn pool_on(
        &self,
        credentials: &Credentials,
        database: &str,
    ) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(self.connect_options_to(credentials, database))
            .await
    }
}
