//! The client-authentication rules (pg_hba.conf) of the production-like topology: the app role
//! only from the run network, the harness's roles only from the network's gateway, nothing
//! else. PostgreSQL rejects a connection that no line matches ("no pg_hba.conf entry").

use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::deployment::{DATABASE, Deployment};
use crate::error::{Error, Result};
use crate::network::NetworkAddresses;
use crate::postgres::MAINTENANCE_DATABASE;
use crate::redact::redact;

/// SQLSTATE invalid_authorization_specification, which a pg_hba.conf rejection carries.
const REJECTED_BY_RULES: &str = "28000";
/// Interval between checks that the reloaded rules apply.
const RELOAD_PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Deadline for the server to apply the new rules. The postmaster reloads on SIGHUP, which
/// takes milliseconds.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the pg_hba.conf lines. The order matters, because PostgreSQL uses the first line that
/// matches the connection type, database, role and address.
///
/// - The OS user postgres may log in as the superuser over the container's unix socket (peer
///   authentication), for maintenance with `docker exec`.
/// - The app roles are rejected from the gateway, so that the host (the harness included)
///   cannot act as the app.
/// - The app roles are accepted from the rest of the run network, with a password.
/// - The harness's roles are accepted from the gateway only, with a password.
pub fn rules(
    addresses: &NetworkAddresses,
    app_roles: &[&str],
    harness_roles: &[&str],
) -> Vec<String> {
    let app = app_roles.join(",");
    let harness = harness_roles.join(",");
    let gateway = format!("{}/32", addresses.gateway);
    vec![
        "# Written by the harness for the production-like topology.".to_owned(),
        "# TYPE DATABASE USER ADDRESS METHOD".to_owned(),
        "local all postgres peer".to_owned(),
        format!("host all {app} {gateway} reject"),
        format!("host all {app} {} scram-sha-256", addresses.subnet),
        format!("host all {harness} {gateway} scram-sha-256"),
    ]
}

/// Replaces the server's pg_hba.conf with [`rules`] for the deployment's app role and the
/// harness's roles, reloads the configuration and waits until the server applies it.
///
/// The file is written with `COPY ... TO` as the superuser, so no shell in the container is
/// needed. PostgreSQL 15 checks the file in `pg_hba_file_rules` before the reload, and keeps
/// the old rules when the file is invalid, which this function reports as an error.
pub async fn restrict(deployment: &Deployment, addresses: &NetworkAddresses) -> Result<()> {
    let started = Instant::now();
    let harness_roles = [
        deployment.superuser.role.as_str(),
        deployment.migrator.role.as_str(),
        deployment.auditor.role.as_str(),
    ];
    let lines = rules(addresses, &[deployment.app.role.as_str()], &harness_roles);

    let options = deployment
        .connect_options_to(&deployment.superuser, MAINTENANCE_DATABASE)
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| failure("connecting as the superuser", &error))?;

    let path: String =
        sqlx::query_scalar("SELECT setting FROM pg_catalog.pg_settings WHERE name = 'hba_file'")
            .fetch_one(&mut connection)
            .await
            .map_err(|error| failure("reading the hba_file setting", &error))?;
    // The lines contain role names, addresses and keywords only, never a quote or backslash,
    // so they need no escaping in COPY's text format.
    let values: Vec<String> = lines.iter().map(|line| format!("('{line}')")).collect();
    let copy = format!("COPY (VALUES {}) TO '{path}'", values.join(", "));
    sqlx::raw_sql(AssertSqlSafe(copy))
        .execute(&mut connection)
        .await
        .map_err(|error| failure(&format!("writing {path}"), &error))?;

    let errors: Vec<(i32, String)> = sqlx::query_as(
        "SELECT line_number, error FROM pg_catalog.pg_hba_file_rules WHERE error IS NOT NULL",
    )
    .fetch_all(&mut connection)
    .await
    .map_err(|error| failure("reading pg_hba_file_rules", &error))?;
    if !errors.is_empty() {
        let described: Vec<String> = errors
            .iter()
            .map(|(line, error)| format!("line {line}: {error}"))
            .collect();
        return Err(Error::ClientAuthentication {
            step: format!("checking {path}"),
            cause: described.join("; "),
        });
    }
    sqlx::query("SELECT pg_catalog.pg_reload_conf()")
        .execute(&mut connection)
        .await
        .map_err(|error| failure("reloading the configuration", &error))?;
    connection.close().await.ok();

    wait_until_applied(deployment).await?;
    tracing::info!(
        subnet = %addresses.subnet,
        gateway = %addresses.gateway,
        elapsed = ?started.elapsed(),
        "pg_hba.conf restricted to the production-like rules"
    );
    Ok(())
}

/// Waits until a login as the app role from the harness is rejected by the rules, which shows
/// that the server has reloaded them.
async fn wait_until_applied(deployment: &Deployment) -> Result<()> {
    let deadline = Instant::now() + RELOAD_TIMEOUT;
    let options = deployment
        .connect_options_to(&deployment.app, DATABASE)
        .disable_statement_logging();
    loop {
        let last = match PgConnection::connect_with(&options).await {
            Ok(connection) => {
                connection.close().await.ok();
                "the app role could still log in from the harness".to_owned()
            }
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some(REJECTED_BY_RULES) =>
            {
                return Ok(());
            }
            Err(error) => redact(&error.to_string()),
        };
        if Instant::now() >= deadline {
            return Err(Error::ClientAuthentication {
                step: "waiting for the server to apply the new rules".to_owned(),
                cause: format!("not applied within {RELOAD_TIMEOUT:?}; last attempt: {last}"),
            });
        }
        tokio::time::sleep(RELOAD_PROBE_INTERVAL).await;
    }
}

fn failure(step: &str, error: &sqlx::Error) -> Error {
    Error::ClientAuthentication {
        step: step.to_owned(),
        cause: redact(&error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_reject_app_role_from_gateway_first() {
        let addresses = NetworkAddresses {
            subnet: "172.18.0.0/16".to_owned(),
            gateway: "172.18.0.1".to_owned(),
        };

        let lines = rules(&addresses, &["lv_app"], &["postgres", "lv_migrator"]);

        assert_eq!(
            lines[2..],
            [
                "local all postgres peer",
                "host all lv_app 172.18.0.1/32 reject",
                "host all lv_app 172.18.0.0/16 scram-sha-256",
                "host all postgres,lv_migrator 172.18.0.1/32 scram-sha-256",
            ]
        );
    }
}
