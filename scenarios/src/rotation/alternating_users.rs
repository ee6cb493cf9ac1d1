//! Check `rotation.alternating_users`: two login roles with the same grants, and a rolling
//! restart that moves the app from one to the other, under steady load.
//!
//! The drill creates the second role with the grants of the app's role and starts a new app
//! container with the second role's credentials beside the running one. It moves the load to
//! the new container and stops the old one with SIGTERM, so that the old one finishes its
//! requests in flight. Then it locks the retired role with NOLOGIN. No request may fail, the retired role must not be able
//! to log in and must have no session left, and no acknowledged write may be lost.
//!
//! NOTE: the production-like topology's pg_hba.conf names the app role only, so this drill
//! runs on the default topology.

use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::Credentials;
use harness::rotation;
use harness::run::Run;
use harness::secret::Secret;

use super::{INVALID_AUTHORIZATION, SteadyLoad, crud_round_trip, login, password_findings};

/// Stable check name.
pub const NAME: &str = "rotation.alternating_users";

/// Suffix of the second login role's name.
const ALTERNATE_SUFFIX: &str = "_alt";

/// The order of the restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Start the new container, move the traffic, then stop the old one: a rolling restart.
    Rolling,
    /// Remove the old container before the new one starts. For the check's self-test.
    StopFirst,
}

/// Runs the drill on a run whose app is started. The app runs as the second role afterwards,
/// and the deployment's app credentials are the second role's.
pub async fn run(run: &mut Run) -> CheckResult {
    run_with(run, Order::Rolling).await
}

/// Runs the drill with the given restart order.
pub async fn run_with(run: &mut Run, order: Order) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, ?order, "check started");

    let result = match check(run, order).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

async fn check(run: &mut Run, order: Order) -> Result<(Vec<String>, String), String> {
    let retired = run.deployment().app.clone();
    if retired.role.ends_with(ALTERNATE_SUFFIX) {
        return Err(format!(
            "the app already runs as {}; this drill moves it from the first role to the second \
             once per run",
            retired.role
        ));
    }
    let steady = SteadyLoad::start(run.deployment(), NAME).await?;
    let mut findings = Vec::new();
    let outcome = drill(run, &steady, order, &retired, &mut findings).await;
    let verification = steady.finish(run.deployment(), NAME).await;
    outcome?;
    let verification = verification?;
    findings.extend(verification.findings());
    if let Some(window) = &verification.window {
        findings.push(format!(
            "the restart from {} to {} failed {} requests in a window of {} ms; start the new \
             container and move the traffic to it before stopping the old one",
            retired.role,
            run.deployment().app.role,
            window.count,
            window.duration().as_millis()
        ));
    }

    let (password_findings, app_containers) = password_findings(run).await?;
    findings.extend(password_findings);

    let passed = format!(
        "moved the app from {} to {} with a rolling restart; {}; {} is locked and has no \
         session left; no password in the Postgres log or the logs of {app_containers} app \
         containers",
        retired.role,
        run.deployment().app.role,
        verification.summary(),
        retired.role
    );
    Ok((findings, passed))
}

/// Creates the second role, restarts the app onto it in `order`, locks the first role and
/// verifies the lock, adding findings.
async fn drill(
    run: &mut Run,
    steady: &SteadyLoad,
    order: Order,
    retired: &Credentials,
    findings: &mut Vec<String>,
) -> Result<(), String> {
    let next = Credentials {
        role: format!("{}{ALTERNATE_SUFFIX}", retired.role),
        password: Secret::generate(),
    };
    harness::redact::register(&next.password);
    rotation::create_role_like(run.deployment(), &next.role, &next.password, &retired.role)
        .await
        .map_err(|error| error.to_string())?;
    run.set_app_credentials(next.clone());

    // The restart: the app's environment now carries the second role.
    let environment = run.app_env().to_vec();
    match order {
        Order::Rolling => {
            run.start_app_beside(environment)
                .await
                .map_err(|error| format!("starting the app as {} failed: {error}", next.role))?;
            steady.point_at(&run.deployment().app_url);
            let switched_at = steady.elapsed();
            // Writes acknowledged by the new container show that every worker has moved over,
            // so no request is left in flight to the old one.
            steady.wait_for_acknowledged(switched_at).await?;
            run.stop_previous_app()
                .await
                .map_err(|error| format!("stopping the old app container failed: {error}"))?;
        }
        Order::StopFirst => {
            run.start_app_with_env(environment)
                .await
                .map_err(|error| format!("restarting the app as {} failed: {error}", next.role))?;
            steady.point_at(&run.deployment().app_url);
        }
    }
    if let Some(finding) = crud_round_trip(run.deployment(), NAME).await? {
        findings.push(finding);
    }
    let locked_at = steady.elapsed();

    // Lock the retired role and verify it.
    rotation::lock_role(run.deployment(), &retired.role)
        .await
        .map_err(|error| error.to_string())?;
    let can_log_in = rotation::can_log_in(run.deployment(), &retired.role)
        .await
        .map_err(|error| error.to_string())?;
    if can_log_in {
        findings.push(format!(
            "the retired role {} can still log in; lock it with `ALTER ROLE {} NOLOGIN` or a \
             VALID UNTIL in the past",
            retired.role, retired.role
        ));
    }
    match login(run.deployment(), retired).await? {
        Some(code) if code == INVALID_AUTHORIZATION => {}
        Some(code) => findings.push(format!(
            "a login as the retired role {} was rejected with SQLSTATE {code}, expected \
             {INVALID_AUTHORIZATION} (role not permitted to log in)",
            retired.role
        )),
        None => findings.push(format!(
            "a login as the retired role {} with its password still succeeds",
            retired.role
        )),
    }
    let sessions = rotation::session_count(run.deployment(), &retired.role)
        .await
        .map_err(|error| error.to_string())?;
    if sessions > 0 {
        findings.push(format!(
            "the retired role {} still has {sessions} sessions; NOLOGIN does not end open \
             sessions, so stop every app container that used it",
            retired.role
        ));
    }
    steady.wait_for_acknowledged(locked_at).await?;
    Ok(())
}
