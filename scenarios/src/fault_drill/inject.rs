//! Injecting a fault into the run's containers, holding it, and healing it, with every step on
//! the time line.

use std::time::Duration;

use harness::fault;
use harness::ledger::Ledger;
use harness::load::LoadTarget;
use harness::network;
use harness::run::Run;

use super::schedule::Schedule;
use super::{Fault, Timeline};

/// Deadline for the app to exit after SIGTERM: the app's default shutdown grace (10 s) and a
/// margin for closing the pool.
const APP_EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Deadline for Postgres to exit after a signal. A fast shutdown writes a checkpoint first.
const POSTGRES_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Times and exit code of an injected fault, on the ledger's clock.
#[derive(Clone, Copy, Debug)]
pub struct Injected {
    /// When the fault was injected.
    pub start: Duration,
    /// When healing began.
    pub heal_started: Duration,
    /// When healing ended: the container is back, thawed or reconnected.
    pub healed: Duration,
    /// Exit code of the container that the signal stopped.
    pub exit_code: Option<i64>,
}

/// Injects `fault`, keeps it for the schedule's duration and heals it. After an app restart,
/// `target` points at the new app container.
pub async fn inject_and_heal(
    run: &mut Run,
    fault: Fault,
    schedule: &Schedule,
    target: &LoadTarget,
    ledger: &Ledger,
    timeline: &mut Timeline,
) -> Result<Injected, String> {
    let docker = run.docker().clone();
    let postgres = run
        .postgres()
        .map(|postgres| postgres.name().to_owned())
        .ok_or("the run has no Postgres container")?;
    let app = run
        .app()
        .map(|app| app.name().to_owned())
        .ok_or("the run has no app container")?;
    let failed = |step: &str, error: harness::error::Error| format!("{step} failed: {error}");

    let start = ledger.elapsed();
    let mut exit_code = None;
    match fault {
        Fault::AppSignal(signal) => {
            timeline.record(format!("{signal} sent to app container {app}"));
            fault::send_signal(&docker, &app, signal)
                .await
                .map_err(|error| failed("sending the signal to the app", error))?;
            let code = fault::wait_until_exited(&docker, &app, APP_EXIT_TIMEOUT)
                .await
                .map_err(|error| failed("waiting for the app to exit", error))?;
            timeline.record(format!("app container {app} exited with code {code}"));
            exit_code = Some(code);
        }
        Fault::PostgresSignal(signal) => {
            // A data folder in memory would be empty after the container exits.
            run.postgres()
                .ok_or("the run has no Postgres container")?
                .check_survives_stop("signalling")
                .map_err(|error| error.to_string())?;
            timeline.record(format!("{signal} sent to Postgres container {postgres}"));
            fault::send_signal(&docker, &postgres, signal)
                .await
                .map_err(|error| failed("sending the signal to Postgres", error))?;
            let code = fault::wait_until_exited(&docker, &postgres, POSTGRES_EXIT_TIMEOUT)
                .await
                .map_err(|error| failed("waiting for Postgres to exit", error))?;
            timeline.record(format!("Postgres container exited with code {code}"));
            exit_code = Some(code);
        }
        Fault::Partition => {
            let network = network::network_name(run.names_id());
            fault::disconnect(&docker, &network, &postgres)
                .await
                .map_err(|error| failed("disconnecting Postgres", error))?;
            timeline.record(format!(
                "Postgres container disconnected from network {network}"
            ));
        }
        Fault::Pause => {
            fault::pause(&docker, &postgres)
                .await
                .map_err(|error| failed("pausing Postgres", error))?;
            timeline.record("Postgres container paused".to_owned());
        }
        Fault::Stutter => {
            timeline.record(format!(
                "Postgres container stutter started: {} freezes of 100 to 400 ms",
                schedule.stutter.len()
            ));
            for (freeze, gap) in &schedule.stutter {
                fault::pause(&docker, &postgres)
                    .await
                    .map_err(|error| failed("pausing Postgres", error))?;
                tokio::time::sleep(*freeze).await;
                fault::unpause(&docker, &postgres)
                    .await
                    .map_err(|error| failed("unpausing Postgres", error))?;
                tokio::time::sleep(*gap).await;
            }
        }
    }

    if fault != Fault::Stutter {
        tokio::time::sleep(schedule.hold).await;
    }

    let heal_started = ledger.elapsed();
    match fault {
        Fault::AppSignal(_) => {
            timeline.record("starting a new app container".to_owned());
            run.start_app()
                .await
                .map_err(|error| failed("starting a new app container", error))?;
            target.set_url(&run.deployment().app_url);
            timeline.record("new app container ready".to_owned());
        }
        Fault::PostgresSignal(_) => {
            timeline.record("starting the Postgres container".to_owned());
            run.start_postgres()
                .await
                .map_err(|error| failed("starting Postgres", error))?;
            timeline.record("Postgres ready".to_owned());
        }
        Fault::Partition => {
            let network = network::network_name(run.names_id());
            fault::connect(&docker, &network, &postgres)
                .await
                .map_err(|error| failed("reconnecting Postgres", error))?;
            timeline.record(format!(
                "Postgres container reconnected to network {network}"
            ));
            run.refresh_postgres_port()
                .await
                .map_err(|error| failed("reading the new published port of Postgres", error))?;
        }
        Fault::Pause => {
            fault::unpause(&docker, &postgres)
                .await
                .map_err(|error| failed("unpausing Postgres", error))?;
            timeline.record("Postgres container unpaused".to_owned());
        }
        Fault::Stutter => timeline.record("Postgres container stutter ended".to_owned()),
    }
    Ok(Injected {
        start,
        heal_started,
        healed: ledger.elapsed(),
        exit_code,
    })
}
