//! Check `access.least_privilege`: the app's login role holds only what the app needs. It reads
//! the catalogs as the superuser (see [`catalog`]) and then runs probes as the app role (see
//! [`probes`]). The role must have:
//!
//! - none of SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, and no role membership
//!   (so none in pg_read_server_files, pg_write_server_files or pg_execute_server_program);
//! - no ownership of any object in any database;
//! - no CREATE or TEMPORARY on a database, no CREATE on a schema, and no TRUNCATE, REFERENCES
//!   or TRIGGER on a table, now or through default privileges for future tables;
//! - no SELECT on pg_authid and no EXECUTE on the server-file functions.
//!
//! PUBLIC, whose privileges every role inherits, must have no privilege on a database that
//! accepts connections, no CREATE on a schema and no privilege on a table of the app database.
//! Each finding names the privilege and the statement that removes it.

mod catalog;
mod probes;

use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::{DATABASE, Deployment};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

use crate::redact::redact;

/// Stable check name.
pub const NAME: &str = "access.least_privilege";

/// Runs the check on a bootstrapped and migrated database. The app container is not needed.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, "check started");

    let result = match check(deployment).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Returns the findings and the pass message, or the reason no verdict was reached.
async fn check(deployment: &Deployment) -> Result<(Vec<String>, String), String> {
    let role = deployment.app.role.as_str();
    let owner = deployment.migrator.role.as_str();
    let database_error = |step: &str, error: sqlx::Error| {
        format!("{step} failed: {}", redact(deployment, &error.to_string()))
    };

    // The catalogs first: their findings name the grant and the statement that removes it.
    let options = deployment
        .connect_options(&deployment.superuser)
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| database_error("connecting to Postgres as the superuser", error))?;
    let catalog = catalog::inspect(&mut connection, role, owner, DATABASE).await;
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing the superuser connection failed");
    }
    let catalog = catalog.map_err(|error| database_error("reading the catalogs", error))?;

    // Then the behaviour: what the role can really do, whatever the grants show.
    let probes = probes::run(deployment)
        .await
        .map_err(|error| database_error("probing as the app role", error))?;

    let mut findings = catalog.findings;
    findings.extend(probes.findings);
    let passed = format!(
        "role {role} has no role attribute beyond LOGIN, no membership, owns nothing, has no \
         DDL-level grant and cannot read pg_authid or server files; PUBLIC has no privilege on \
         {} databases that accept connections; {} probes as {role} were rejected with SQLSTATE \
         42501",
        catalog.databases, probes.rejected
    );
    Ok((findings, passed))
}
