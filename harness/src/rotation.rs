//! The database side of credential rotation, run as the superuser: new passwords sent as
//! SCRAM-SHA-256 verifiers, a second login role with the grants of the first, and locking a
//! retired role.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::deployment::{DATABASE, Deployment};
use crate::redact::redact;
use crate::secret::Secret;

/// A rotation step that failed, with the statement's description (never the statement, which
/// carries a verifier) and the redacted driver error.
#[derive(Debug, thiserror::Error)]
#[error("rotation step `{step}` failed: {cause}")]
pub struct RotationError {
    /// The step, such as `ALTER ROLE lv_app PASSWORD`.
    pub step: String,
    /// The redacted cause.
    pub cause: String,
}

/// Computes the SCRAM-SHA-256 verifier of `password` (random salt, 4096 iterations), which
/// PostgreSQL stores as is, so that the plain password never reaches the server.
pub fn verifier(password: &Secret) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
}

/// Sets the password of `role` by sending its verifier.
pub async fn set_password(
    deployment: &Deployment,
    role: &str,
    password: &Secret,
) -> Result<(), RotationError> {
    // A verifier contains only base64 characters, digits, '$' and ':', so single quotes are safe
    // around it. Role names are the harness's constants.
    let statement = format!("ALTER ROLE {role} PASSWORD '{}'", verifier(password));
    execute(
        deployment,
        &[statement],
        &format!("ALTER ROLE {role} PASSWORD"),
    )
    .await
}

/// Creates login role `role` with `password` (as a verifier) and the attributes of the app's
/// roles, and gives it every grant `template` has on the application database, its schema
/// `public` and the tables in it.
pub async fn create_role_like(
    deployment: &Deployment,
    role: &str,
    password: &Secret,
    template: &str,
) -> Result<(), RotationError> {
    let create = format!(
        "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS \
         PASSWORD '{}'",
        verifier(password)
    );
    execute(deployment, &[create], &format!("CREATE ROLE {role}")).await?;

    let mut connection = connect(deployment).await?;
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type), \
                pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, \
              LATERAL pg_catalog.aclexplode(c.relacl) a \
         WHERE n.nspname = 'public' \
           AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
         GROUP BY n.nspname, c.relname \
         ORDER BY 2",
    )
    .bind(template)
    .fetch_all(&mut connection)
    .await
    .map_err(|error| failure(&format!("reading the table grants of {template}"), &error))?;
    connection.close().await.ok();

    let mut statements = vec![
        format!("GRANT CONNECT ON DATABASE {DATABASE} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
    ];
    statements.extend(
        grants
            .into_iter()
            .map(|(privileges, table)| format!("GRANT {privileges} ON {table} TO {role}")),
    );
    execute(
        deployment,
        &statements,
        &format!("copying the grants of {template} to {role}"),
    )
    .await
}

/// Locks `role`: it can no longer log in. Sessions already open are not ended, because
/// PostgreSQL checks LOGIN only when a session starts.
pub async fn lock_role(deployment: &Deployment, role: &str) -> Result<(), RotationError> {
    execute(
        deployment,
        &[format!("ALTER ROLE {role} NOLOGIN")],
        &format!("ALTER ROLE {role} NOLOGIN"),
    )
    .await
}

/// Sets the VALID UNTIL of `role` to `seconds` after the server's current time. PostgreSQL
/// checks it only at login, so sessions already open go on working after it passes.
pub async fn expire_after(
    deployment: &Deployment,
    role: &str,
    seconds: u32,
) -> Result<(), RotationError> {
    let statement = format!(
        "DO $$ BEGIN EXECUTE pg_catalog.format('ALTER ROLE %I VALID UNTIL %L', '{role}', \
         pg_catalog.now() + make_interval(secs => {seconds})); END $$"
    );
    execute(
        deployment,
        &[statement],
        &format!("ALTER ROLE {role} VALID UNTIL"),
    )
    .await
}

/// Removes the expiry of `role` (VALID UNTIL 'infinity').
pub async fn never_expire(deployment: &Deployment, role: &str) -> Result<(), RotationError> {
    execute(
        deployment,
        &[format!("ALTER ROLE {role} VALID UNTIL 'infinity'")],
        &format!("ALTER ROLE {role} VALID UNTIL 'infinity'"),
    )
    .await
}

/// Ends every session of `role`, as a pool that recycles its connections would, so that the
/// role's clients must log in again.
pub async fn end_sessions(deployment: &Deployment, role: &str) -> Result<i64, RotationError> {
    let mut connection = connect(deployment).await?;
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid)) \
         FROM pg_catalog.pg_stat_activity WHERE usename = $1",
    )
    .bind(role)
    .fetch_one(&mut connection)
    .await
    .map_err(|error| failure(&format!("ending the sessions of {role}"), &error))?;
    connection.close().await.ok();
    Ok(ended)
}

/// Returns whether `role` may log in now: LOGIN and no VALID UNTIL in the past.
pub async fn can_log_in(deployment: &Deployment, role: &str) -> Result<bool, RotationError> {
    let mut connection = connect(deployment).await?;
    let allowed: Option<bool> = sqlx::query_scalar(
        "SELECT rolcanlogin AND coalesce(rolvaliduntil > now(), true) \
         FROM pg_catalog.pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut connection)
    .await
    .map_err(|error| failure(&format!("reading the attributes of {role}"), &error))?;
    connection.close().await.ok();
    Ok(allowed.unwrap_or(false))
}

/// Returns the number of sessions `role` has open.
pub async fn session_count(deployment: &Deployment, role: &str) -> Result<i64, RotationError> {
    let mut connection = connect(deployment).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE usename = $1")
            .bind(role)
            .fetch_one(&mut connection)
            .await
            .map_err(|error| failure(&format!("counting the sessions of {role}"), &error))?;
    connection.close().await.ok();
    Ok(count)
}

async fn connect(deployment: &Deployment) -> Result<PgConnection, RotationError> {
    let options = deployment
        .connect_options(&deployment.superuser)
        .disable_statement_logging();
    PgConnection::connect_with(&options)
        .await
        .map_err(|error| failure("connecting as the superuser", &error))
}

/// Runs `statements` in order as the superuser. `step` describes them in errors and must not
/// contain a secret.
async fn execute(
    deployment: &Deployment,
    statements: &[String],
    step: &str,
) -> Result<(), RotationError> {
    let mut connection = connect(deployment).await?;
    for statement in statements {
        sqlx::raw_sql(AssertSqlSafe(statement.clone()))
            .execute(&mut connection)
            .await
            .map_err(|error| failure(step, &error))?;
    }
    connection.close().await.ok();
    Ok(())
}

fn failure(step: &str, error: &sqlx::Error) -> RotationError {
    RotationError {
        step: step.to_owned(),
        cause: redact(&error.to_string()),
    }
}
