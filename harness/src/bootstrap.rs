//! The database bootstrap, run once per run as the superuser: the three login roles (passwords
//! sent as SCRAM-SHA-256 verifiers computed here), the application database, and the
//! database- and schema-level grants. Table grants come from the migrations.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::deployment::{APP_ROLE, AUDITOR_ROLE, Credentials, DATABASE, Deployment, MIGRATOR_ROLE};
use crate::error::{Error, Result};
use crate::postgres::MAINTENANCE_DATABASE;

/// Creates the roles, the database and the grants on a fresh server.
///
/// The roles get LOGIN and none of SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS.
/// The migrator owns the database and schema `public`, and PUBLIC loses every privilege on both,
/// because PostgreSQL 15 still grants CONNECT and TEMP on new databases to PUBLIC. For the same
/// reason PUBLIC loses CONNECT and TEMP on the maintenance database and on `template1`, which
/// only the superuser uses. The app and auditor roles get CONNECT and USAGE only.
pub async fn bootstrap(deployment: &Deployment) -> Result<()> {
    let server = superuser_options(deployment, MAINTENANCE_DATABASE);
    let mut connection = connect(&server, "connecting as the superuser").await?;

    for credentials in [&deployment.migrator, &deployment.app, &deployment.auditor] {
        let statement = create_role_statement(credentials);
        execute(
            &mut connection,
            statement,
            &format!("CREATE ROLE {}", credentials.role),
        )
        .await?;
    }

    // CREATE DATABASE cannot run inside a transaction, so each statement is sent on its own.
    let database_statements = [
        format!("CREATE DATABASE {DATABASE} OWNER {MIGRATOR_ROLE}"),
        format!("REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC"),
        format!("GRANT CONNECT ON DATABASE {DATABASE} TO {APP_ROLE}, {AUDITOR_ROLE}"),
        format!("REVOKE ALL ON DATABASE {MAINTENANCE_DATABASE} FROM PUBLIC"),
        "REVOKE ALL ON DATABASE template1 FROM PUBLIC".to_owned(),
    ];
    for statement in database_statements {
        let step = statement.clone();
        execute(&mut connection, statement, &step).await?;
    }
    close(connection).await;

    // Schema privileges are per database, so these run inside the new database.
    let database = superuser_options(deployment, DATABASE);
    let mut connection =
        connect(&database, "connecting to the new database as the superuser").await?;
    let schema_statements = [
        format!("ALTER SCHEMA public OWNER TO {MIGRATOR_ROLE}"),
        "REVOKE ALL ON SCHEMA public FROM PUBLIC".to_owned(),
        format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {AUDITOR_ROLE}"),
    ];
    for statement in schema_statements {
        let step = statement.clone();
        execute(&mut connection, statement, &step).await?;
    }
    close(connection).await;

    tracing::info!(
        database = DATABASE,
        roles = ?[MIGRATOR_ROLE, APP_ROLE, AUDITOR_ROLE],
        "database bootstrapped"
    );
    Ok(())
}

/// Builds `CREATE ROLE` with a SCRAM-SHA-256 verifier, so that the plain password never reaches
/// the server, where statement logging or a failed statement could write it to the log.
fn create_role_statement(credentials: &Credentials) -> String {
    let verifier =
        postgres_protocol::password::scram_sha_256(credentials.password.expose().as_bytes());
    // The verifier contains only base64 characters, digits, '$' and ':', so single quotes are
    // safe around it. Role names are the fixed constants of `deployment`.
    format!(
        "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS \
         PASSWORD '{verifier}'",
        role = credentials.role,
    )
}

/// Connect options for the superuser on `database`, with statement logging off.
pub(crate) fn superuser_options(deployment: &Deployment, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&deployment.postgres_host)
        .port(deployment.postgres_port)
        .username(&deployment.superuser.role)
        .password(deployment.superuser.password.expose())
        .database(database)
        .disable_statement_logging()
}

async fn connect(options: &PgConnectOptions, step: &str) -> Result<PgConnection> {
    PgConnection::connect_with(options)
        .await
        .map_err(|source| Error::Bootstrap {
            step: step.to_owned(),
            source,
        })
}

/// Runs one statement. `step` names it in errors and must not contain a secret.
async fn execute(connection: &mut PgConnection, statement: String, step: &str) -> Result<()> {
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(connection)
        .await
        .map_err(|source| Error::Bootstrap {
            step: step.to_owned(),
            source,
        })?;
    Ok(())
}

async fn close(connection: PgConnection) {
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing the bootstrap connection failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn role_statement_carries_a_verifier_not_the_password() {
        let password = Secret::generate();
        let statement = create_role_statement(&Credentials {
            role: APP_ROLE.to_owned(),
            password: password.clone(),
        });
        assert!(
            !statement.contains(password.expose()),
            "the statement must not contain the plain password"
        );
        assert!(
            statement.contains("PASSWORD 'SCRAM-SHA-256$4096:"),
            "{statement}"
        );
        assert!(
            statement.starts_with("CREATE ROLE lv_app LOGIN NOSUPERUSER"),
            "{statement}"
        );
    }
}
