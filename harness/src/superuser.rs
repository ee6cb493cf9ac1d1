//! Superuser connections and statements for the databases the harness makes for itself: the
//! template database, its clones and scratch databases. Each caller maps a failed step into its
//! own error variant.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::bootstrap::superuser_options;
use crate::deployment::Deployment;
use crate::error::{Error, Result};

/// Builds the caller's error for a failed step, such as `Error::TemplateDatabase`.
pub(crate) type StepError = fn(String, sqlx::Error) -> Error;

/// Opens a superuser connection to `database`.
pub(crate) async fn connect(
    deployment: &Deployment,
    database: &str,
    error: StepError,
) -> Result<PgConnection> {
    PgConnection::connect_with(&superuser_options(deployment, database))
        .await
        .map_err(|source| error(format!("connecting to {database} as the superuser"), source))
}

/// Runs one statement, or several separated by semicolons, which Postgres runs as one
/// transaction (simple query protocol). Statements here contain database and role names only,
/// never a secret, so the statement itself names the step in errors.
pub(crate) async fn execute(
    connection: &mut PgConnection,
    statement: String,
    error: StepError,
) -> Result<()> {
    let step = statement.clone();
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(connection)
        .await
        .map_err(|source| error(step, source))?;
    Ok(())
}

/// Closes a connection, logging a failure at debug level: the server ends the session anyway.
pub(crate) async fn close(connection: PgConnection, purpose: &str) {
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing a {purpose} connection failed");
    }
}
