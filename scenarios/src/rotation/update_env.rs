//! Check `rotation.update_env`: the documented rotation procedure, under steady load.
//!
//! 1. Rotate the app role's password by sending a SCRAM-SHA-256 verifier, so that the plain
//!    password never reaches the server.
//! 2. Restart the app with the updated environment: a new container whose DB_PASSWORD is the
//!    new password, as a process manager's restart with an updated environment gives.
//! 3. Verify connectivity: `/readyz` returns 200 and a CRUD round trip works.
//! 4. Confirm that the old password is rejected, that no acknowledged write was lost, and that
//!    neither the Postgres log nor an app log shows a password.
//!
//! The pass message reports the window of failed requests, in milliseconds and as a count.

use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::{Credentials, Deployment};
use harness::rotation;
use harness::run::Run;
use harness::secret::Secret;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::{
    Deadlines, INVALID_PASSWORD, SteadyLoad, crud_round_trip, login, password_findings,
    wait_until_ready,
};
use crate::leak_scan::app_containers;
use crate::redact::redact;

/// Stable check name.
pub const NAME: &str = "rotation.update_env";

/// The procedure the drill follows: a correct one (a new container, or an env file rewritten in
/// place) or a faulty one for the check's self-tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Procedure {
    /// A verifier, then a new container with the updated environment.
    Documented,
    /// A verifier, then the same container stopped and started, which keeps the environment it
    /// was created with, as a process manager's restart without the updated environment does.
    SameContainer,
    /// The plain password sent in `ALTER ROLE` while the session logs every statement, then a
    /// new container with the updated environment.
    PlainPasswordLogged,
    /// For an app configured by an env file: a verifier, then the env file rewritten with the
    /// new password and the same container stopped and started. The container's own
    /// DB_PASSWORD keeps the old password, which the env file overrides.
    EnvFileInPlace,
}

/// Runs the documented procedure on a run whose app is started, with the default deadlines.
/// The app runs with the new password afterwards, and the deployment's app credentials are the
/// new ones.
pub async fn run(run: &mut Run) -> CheckResult {
    run_with(run, Procedure::Documented, Deadlines::default()).await
}

/// Runs the drill with the given procedure, waiting at most `deadlines.ready` for the restarted
/// app to become ready.
pub async fn run_with(run: &mut Run, procedure: Procedure, deadlines: Deadlines) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, ?procedure, ?deadlines, "check started");

    let result = match check(run, procedure, deadlines).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(
    run: &mut Run,
    procedure: Procedure,
    deadlines: Deadlines,
) -> Result<(Vec<String>, String), String> {
    if procedure == Procedure::EnvFileInPlace {
        let contents = env_file(&run.deployment().app.password);
        run.start_app_with_env_file(&contents)
            .await
            .map_err(|error| format!("starting the app with an env file failed: {error}"))?;
    }
    let steady = SteadyLoad::start(run.deployment(), NAME).await?;
    let mut findings = Vec::new();
    let outcome = drill(run, &steady, procedure, deadlines, &mut findings).await;
    let verification = steady.finish(run.deployment(), NAME).await;
    let ready_after = outcome?;
    let verification = verification?;
    findings.extend(verification.findings());

    let (password_findings, containers) = password_findings(run).await?;
    findings.extend(password_findings);

    let role = &run.deployment().app.role;
    let passed = format!(
        "rotated the password of {role} with a SCRAM-SHA-256 verifier; the app restarted with \
         the updated environment was ready after {} ms and passed a CRUD round trip; the old \
         password is rejected ({INVALID_PASSWORD}); {}; no password in the Postgres log or \
         the logs of {}",
        ready_after.as_millis(),
        verification.summary(),
        app_containers(containers),
    );
    Ok((findings, passed))
}

/// Rotates, restarts and verifies, adding findings. Returns the time the app took to become
/// ready after the restart.
async fn drill(
    run: &mut Run,
    steady: &SteadyLoad,
    procedure: Procedure,
    deadlines: Deadlines,
    findings: &mut Vec<String>,
) -> Result<std::time::Duration, String> {
    let old = run.deployment().app.clone();
    let new = Credentials {
        role: old.role.clone(),
        password: Secret::generate(),
    };

    // Rotate: from here on, new connections with the old password fail, while the app's open
    // connections keep working.
    // The new password is registered for redaction first, so that no error below can show it.
    harness::redact::register(&new.password);
    match procedure {
        Procedure::PlainPasswordLogged => {
            set_plain_password_logged(run.deployment(), &old.role, &new.password).await?;
        }
        Procedure::Documented | Procedure::SameContainer | Procedure::EnvFileInPlace => {
            rotation::set_password(run.deployment(), &old.role, &new.password)
                .await
                .map_err(|error| error.to_string())?;
        }
    }
    run.set_app_credentials(new.clone());
    tracing::info!(check = NAME, role = %old.role, "password rotated");

    // Restart, then verify connectivity.
    let restarted_at = steady.elapsed();
    let restarted = match procedure {
        Procedure::Documented | Procedure::PlainPasswordLogged => {
            let environment = run.app_env().to_vec();
            run.start_app_with_env_unready(environment).await
        }
        Procedure::SameContainer => run.restart_app_in_place().await,
        Procedure::EnvFileInPlace => {
            let contents = env_file(&new.password);
            match run.write_app_env_file(&contents).await {
                Ok(()) => run.restart_app_in_place().await,
                Err(error) => Err(error),
            }
        }
    };
    restarted.map_err(|error| format!("restarting the app failed: {error}"))?;
    steady.point_at(&run.deployment().app_url);

    let ready_after = match wait_until_ready(run, deadlines.ready).await {
        Ok(elapsed) => elapsed,
        Err(reason) => {
            findings.push(format!(
                "after the rotation, the restarted app {reason}; restart it with the updated \
                 environment, in a new container whose DB_PASSWORD is the new password"
            ));
            // Heal with the documented restart, so that the writes can be read back.
            let environment = run.app_env().to_vec();
            run.start_app_with_env(environment).await.map_err(|error| {
                format!("healing with a restart with the new password failed: {error}")
            })?;
            steady.point_at(&run.deployment().app_url);
            deadlines.ready
        }
    };
    if let Some(finding) = crud_round_trip(run.deployment(), NAME).await? {
        findings.push(finding);
    }
    steady.wait_for_acknowledged(restarted_at).await?;

    // The old password must be rejected, and the new one accepted.
    match login(run.deployment(), &old).await? {
        Some(code) if code == INVALID_PASSWORD => {}
        Some(code) => findings.push(format!(
            "a login as {} with the old password was rejected with SQLSTATE {code}, expected \
             {INVALID_PASSWORD} (invalid_password)",
            old.role
        )),
        None => findings.push(format!(
            "a login as {} with the old password still succeeds after the rotation",
            old.role
        )),
    }
    if let Some(code) = login(run.deployment(), &new).await? {
        findings.push(format!(
            "a login as {} with the new password was rejected with SQLSTATE {code}",
            new.role
        ));
    }
    Ok(ready_after)
}

/// Sends the plain password in `ALTER ROLE` from a session that logs every statement, so that
/// the server log records it: the mistake the verifier avoids.
async fn set_plain_password_logged(
    deployment: &Deployment,
    role: &str,
    password: &Secret,
) -> Result<(), String> {
    let options = deployment
        .connect_options(&deployment.superuser)
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| {
            format!(
                "connecting as the superuser failed: {}",
                redact(deployment, &error.to_string())
            )
        })?;
    // Generated passwords are alphanumeric, so single quotes are safe around one.
    let statements = [
        "SET log_statement = 'all'".to_owned(),
        format!("ALTER ROLE {role} PASSWORD '{}'", password.expose()),
    ];
    for statement in statements {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
            .map_err(|error| {
                format!(
                    "setting the plain password failed: {}",
                    redact(deployment, &error.to_string())
                )
            })?;
    }
    connection.close().await.ok();
    Ok(())
}

/// Builds an env file that sets DB_PASSWORD. Generated passwords are alphanumeric, and single
/// quotes keep the value as written.
fn env_file(password: &Secret) -> Secret {
    Secret::new(format!("DB_PASSWORD='{}'\n", password.expose()))
}
