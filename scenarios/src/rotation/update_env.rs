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
use harness::deployment::Credentials;
use harness::rotation;
use harness::run::Run;
use harness::secret::Secret;

use super::{
    INVALID_PASSWORD, READY_TIMEOUT, SteadyLoad, crud_round_trip, login, password_findings,
    wait_until_ready,
};

/// Stable check name.
pub const NAME: &str = "rotation.update_env";

/// The restart that follows the rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// A new container with the updated environment: the documented procedure.
    UpdatedEnvironment,
    /// The same container stopped and started, which keeps the environment it was created
    /// with: a process manager's restart without the updated environment, or an app that
    /// caches its credentials. For the check's self-test.
    SameContainer,
}

/// Runs the documented procedure on a run whose app is started. The app runs with the new
/// password afterwards, and the deployment's app credentials are the new ones.
pub async fn run(run: &mut Run) -> CheckResult {
    run_with(run, Restart::UpdatedEnvironment).await
}

/// Runs the drill with the given restart.
pub async fn run_with(run: &mut Run, restart: Restart) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, ?restart, "check started");

    let result = match check(run, restart).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(run: &mut Run, restart: Restart) -> Result<(Vec<String>, String), String> {
    let steady = SteadyLoad::start(run.deployment(), NAME).await?;
    let mut findings = Vec::new();
    let outcome = drill(run, &steady, restart, &mut findings).await;
    let verification = steady.finish(run.deployment(), NAME).await;
    let ready_after = outcome?;
    let verification = verification?;
    findings.extend(verification.findings());

    let (password_findings, app_containers) = password_findings(run).await?;
    findings.extend(password_findings);

    let role = &run.deployment().app.role;
    let passed = format!(
        "rotated the password of {role} with a SCRAM-SHA-256 verifier; the app restarted with \
         the updated environment was ready after {} ms and passed a CRUD round trip; the old \
         password is rejected ({INVALID_PASSWORD}); {}; no password in the Postgres log or \
         the logs of {app_containers} app containers",
        ready_after.as_millis(),
        verification.summary(),
    );
    Ok((findings, passed))
}

/// Rotates, restarts and verifies, adding findings. Returns the time the app took to become
/// ready after the restart.
async fn drill(
    run: &mut Run,
    steady: &SteadyLoad,
    restart: Restart,
    findings: &mut Vec<String>,
) -> Result<std::time::Duration, String> {
    let old = run.deployment().app.clone();
    let new = Credentials {
        role: old.role.clone(),
        password: Secret::generate(),
    };

    // Rotate: from here on, new connections with the old password fail, while the app's open
    // connections keep working.
    rotation::set_password(run.deployment(), &old.role, &new.password)
        .await
        .map_err(|error| error.to_string())?;
    run.set_app_credentials(new.clone());
    tracing::info!(check = NAME, role = %old.role, "password rotated");

    // Restart, then verify connectivity.
    let restarted_at = steady.elapsed();
    let restarted = match restart {
        Restart::UpdatedEnvironment => {
            let environment = run.app_env().to_vec();
            run.start_app_with_env_unready(environment).await
        }
        Restart::SameContainer => run.restart_app_in_place().await,
    };
    restarted.map_err(|error| format!("restarting the app failed: {error}"))?;
    steady.point_at(&run.deployment().app_url);

    let ready_after = match wait_until_ready(&run.deployment().app_url).await {
        Ok(elapsed) => elapsed,
        Err(last) => {
            findings.push(format!(
                "after the rotation, the restarted app was not ready within {READY_TIMEOUT:?} \
                 ({last}); restart it with the updated environment, in a new container whose \
                 DB_PASSWORD is the new password"
            ));
            // Heal with the documented restart, so that the writes can be read back.
            let environment = run.app_env().to_vec();
            run.start_app_with_env(environment).await.map_err(|error| {
                format!("healing with a restart with the new password failed: {error}")
            })?;
            steady.point_at(&run.deployment().app_url);
            READY_TIMEOUT
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
