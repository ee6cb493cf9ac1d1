//! The runbook every restart and chaos check follows. It starts a load that records each write
//! in a ledger and polls `/readyz`, injects the fault on a seeded schedule and heals it, waits
//! for the app to recover, then reads every write back and judges.
//!
//! A failing check's message carries the seed and the fault's time line; setting
//! `HARNESS_FAULT_SEED` to that seed replays the same schedule.

pub mod inject;
pub mod judge;
pub mod readiness;
pub mod schedule;

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::ledger::{self, Ledger, Verification};
use harness::load::{self, Load, LoadOptions, LoadTarget};
use harness::repro::ReproDetails;
use harness::run::Run;

use crate::errors_sanitized;
use inject::Injected;
use judge::{Outage, Recovery};
use readiness::ReadinessMonitor;
use schedule::Schedule;

/// Load after recovery, so that the ledger shows writes on both sides of the fault.
const TRAILING_LOAD: Duration = Duration::from_millis(500);

/// A fault the drill injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A signal to the app's main process; healing starts a new app container.
    AppSignal(&'static str),
    /// A signal to Postgres's main process (PID 1 of its container); healing starts the same
    /// container, whose data folder stays.
    PostgresSignal(&'static str),
    /// Postgres disconnected from the run network; healing reconnects it.
    Partition,
    /// Postgres frozen with the cgroup freezer; healing thaws it.
    Pause,
    /// Postgres frozen and thawed in short cycles (see [`Schedule::stutter`]), so that every
    /// query and connect in a freeze waits. This adds latency without a capability or an extra
    /// image.
    Stutter,
}

impl Fault {
    /// Describes the outage for findings, or `None` when the database stays reachable.
    fn outage(self) -> Option<&'static str> {
        match self {
            Self::AppSignal(_) | Self::Stutter => None,
            Self::PostgresSignal(_) => Some("Postgres was down"),
            Self::Partition => Some("Postgres was disconnected from the app's network"),
            Self::Pause => Some("Postgres was paused"),
        }
    }
}

/// One fault check: its name, fault, and the range of the fault's duration in ms.
#[derive(Clone, Debug)]
pub struct Drill {
    /// Stable check name.
    pub check: &'static str,
    /// The fault.
    pub fault: Fault,
    /// Range the schedule draws the fault's duration from, in ms.
    pub hold_ms: RangeInclusive<u64>,
}

/// Faults on the ledger's time line, each with its offset and wall-clock time.
pub struct Timeline {
    ledger: Ledger,
    events: Vec<(Duration, String)>,
}

impl Timeline {
    fn new(ledger: &Ledger) -> Self {
        Self {
            ledger: ledger.clone(),
            events: Vec::new(),
        }
    }

    /// Records `event` now.
    pub fn record(&mut self, event: String) {
        let at = self.ledger.elapsed();
        tracing::info!(offset_ms = at.as_millis() as u64, "{event}");
        self.events.push((at, event));
    }

    /// Renders the events, such as `+812 ms (18:44:07.123Z) SIGKILL sent to ...`.
    fn render(&self) -> String {
        self.events
            .iter()
            .map(|(at, event)| {
                format!(
                    "+{} ms ({}) {event}",
                    at.as_millis(),
                    self.ledger.wall_clock(*at).format("%H:%M:%S%.3fZ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs `drill` on a run whose app is started and returns the check's result. The recovery
/// bound comes from [`schedule::RECOVERY_BOUND_VAR`], or is the default.
pub async fn run(run: &mut Run, drill: &Drill) -> CheckResult {
    match schedule::recovery_bound() {
        Ok(bound) => run_with_bound(run, drill, bound).await,
        Err(message) => CheckResult::error(drill.check, Duration::ZERO, message),
    }
}

/// Runs `drill` like [`run`], but with recovery bound `bound`, ignoring
/// [`schedule::RECOVERY_BOUND_VAR`]. A self-test whose app never recovers waits out the whole
/// bound after healing, so it passes a short one.
pub async fn run_with_bound(run: &mut Run, drill: &Drill, bound: Duration) -> CheckResult {
    let started = Instant::now();
    tracing::info!(
        check = drill.check,
        bound_ms = bound.as_millis() as u64,
        "check started"
    );
    let seed = match schedule::seed() {
        Ok(seed) => seed,
        Err(message) => return CheckResult::error(drill.check, started.elapsed(), message),
    };
    let result = match execute(run, drill, seed, bound).await {
        Ok(Outcome {
            findings,
            summary,
            replay,
        }) => {
            let mut result =
                CheckResult::from_findings(drill.check, started.elapsed(), summary, findings);
            result.message = format!("{}; {replay}", result.message);
            result
        }
        Err(message) => CheckResult::error(drill.check, started.elapsed(), message),
    };
    let details = repro_details(drill, seed, &result.message);
    let result = result.with_repro(details);
    tracing::info!(check = drill.check, status = ?result.status, message = %result.message, "check finished");
    result
}

struct Outcome {
    findings: Vec<String>,
    summary: String,
    replay: String,
}

/// Builds the repro bundle's inputs of a drill: its seed, the variable that replays it, and
/// `fault-schedule.txt` with the schedule the seed draws and the events of this run.
fn repro_details(drill: &Drill, seed: u64, message: &str) -> ReproDetails {
    let schedule = Schedule::from_seed(seed, drill.hold_ms.clone());
    let mut text = format!(
        "check: {}\nfault: {:?}\nseed: {seed} ({}={seed} replays this schedule)\n\
         lead-in: {} ms\nfault duration: {} ms\n",
        drill.check,
        drill.fault,
        schedule::SEED_VAR,
        schedule.lead_in.as_millis(),
        schedule.hold.as_millis(),
    );
    if drill.fault == Fault::Stutter {
        text.push_str("stutter (freeze ms, gap ms):\n");
        for (freeze, gap) in &schedule.stutter {
            text.push_str(&format!("  {} {}\n", freeze.as_millis(), gap.as_millis()));
        }
    }
    text.push_str(&format!("result of this run: {message}\n"));
    ReproDetails {
        seed: Some(seed.to_string()),
        validate_args: Vec::new(),
        env: vec![(schedule::SEED_VAR.to_owned(), seed.to_string())],
        files: Vec::new(),
    }
    .with_file("fault-schedule.txt", text)
}

async fn execute(
    run: &mut Run,
    drill: &Drill,
    seed: u64,
    bound: Duration,
) -> Result<Outcome, String> {
    let schedule = Schedule::from_seed(seed, drill.hold_ms.clone());
    let deployment = run.deployment().clone();
    let before = errors_sanitized::forbidden(run).await?;

    // Start: an owner for the writes, the load and the readiness monitor.
    let owner = load::create_owner(&deployment, drill.check)
        .await
        .map_err(|error| error.to_string())?;
    let ledger = Ledger::new();
    let target = LoadTarget::new(&deployment.app_url);
    let monitor = ReadinessMonitor::start(target.clone(), ledger.clone())?;
    let load = Load::start(
        target.clone(),
        owner,
        ledger.clone(),
        deployment.responses.clone(),
        LoadOptions::new(drill.check),
    )
    .map_err(|error| error.to_string())?;
    tokio::time::sleep(schedule.lead_in).await;

    // Inject, hold and heal.
    let mut timeline = Timeline::new(&ledger);
    let injected =
        inject::inject_and_heal(run, drill.fault, &schedule, &target, &ledger, &mut timeline).await;
    let replay = format!(
        "seed {seed} ({}={seed} replays it): lead-in {} ms, fault {} ms; {}",
        schedule::SEED_VAR,
        schedule.lead_in.as_millis(),
        schedule.hold.as_millis(),
        timeline.render()
    );
    let injected = match injected {
        Ok(injected) => injected,
        Err(message) => {
            load.stop().await;
            monitor.stop().await;
            heal_after_error(run, drill.fault).await;
            return Err(format!("{message}; {replay}"));
        }
    };

    // Observe the recovery, then stop the load.
    let healed = injected.healed;
    let ready = monitor
        .wait_until_ready(&ledger, healed, healed + bound)
        .await;
    let acknowledged = wait_for_acknowledged(&ledger, healed, healed + bound).await;
    tokio::time::sleep(TRAILING_LOAD).await;
    let ledger = load.stop().await;
    let samples = monitor.stop().await;
    let attempts = ledger.attempts();
    let recovery = Recovery {
        healed,
        ready,
        acknowledged: acknowledged.or_else(|| Recovery::first_acknowledged(&attempts, healed)),
    };

    // Verify: the ledger, recovery, readiness, sanitized errors. The database is read first,
    // because an app that did not recover cannot serve the API read-back, and that is a
    // finding rather than a reason to give up the verdict.
    let database = ledger::read_database(run.deployment(), owner)
        .await
        .map_err(|error| format!("{error}; {replay}"))?;
    let mut verification = Verification::from_database(&attempts, &database);
    let mut findings = Vec::new();
    match ledger::read_api(run.deployment(), drill.check, owner).await {
        Ok(api) => verification.api = Some(ledger::compare(&attempts, &api)),
        Err(error) => findings.push(format!(
            "{error}; the app must serve reads again after healing"
        )),
    }
    findings.extend(verification.findings());
    findings.extend(recovery.findings(bound, &samples));
    findings.extend(judge::readiness_before_fault(&samples, injected.start));
    if let Some(description) = drill.fault.outage() {
        let outage = Outage {
            start: injected.start,
            end: injected.heal_started,
        };
        findings.extend(judge::readiness_during_outage(
            &samples,
            outage,
            description,
        ));
    }
    let mut forbidden = errors_sanitized::forbidden(run).await?;
    forbidden.hosts.extend(before.hosts);
    forbidden.ports.extend(before.ports);
    findings.extend(judge::sanitized(
        &run.deployment().responses.responses(),
        drill.check,
        &forbidden,
    ));
    let slowest = attempts
        .iter()
        .map(|attempt| attempt.finished.saturating_sub(attempt.sent))
        .max()
        .unwrap_or_default();
    let mut summary = format!(
        "{}; slowest write {} ms; {}; bound {} ms",
        verification.summary(),
        slowest.as_millis(),
        recovery.describe(),
        bound.as_millis()
    );
    if drill.fault == Fault::AppSignal("SIGTERM") {
        findings.extend(graceful_findings(run, &injected, &attempts).await?);
        // The app's writes take milliseconds, so a signal often finds none in flight. Then the
        // rule about requests in flight was not exercised, and the message states that instead
        // of implying that the rule held.
        let in_flight = judge::in_flight_count(&attempts, injected.start);
        match in_flight {
            0 => summary.push_str(
                "; no write was in flight at SIGTERM, so this run did not exercise the rule \
                 that requests in flight get a response (the self-tests with slow writes do)",
            ),
            count => summary.push_str(&format!("; {count} writes in flight at SIGTERM")),
        }
    }
    Ok(Outcome {
        findings,
        summary,
        replay,
    })
}

/// Waits until a write sent at or after `since` is acknowledged, until `deadline` on the
/// ledger's clock, and returns the time its response arrived.
async fn wait_for_acknowledged(
    ledger: &Ledger,
    since: Duration,
    deadline: Duration,
) -> Option<Duration> {
    loop {
        if let Some(time) = Recovery::first_acknowledged(&ledger.attempts(), since) {
            return Some(time);
        }
        if ledger.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks the graceful shutdown's own rules: exit code 0, no abandoned request in the old app
/// container's log, and a response to every write in flight at SIGTERM.
async fn graceful_findings(
    run: &Run,
    injected: &Injected,
    attempts: &[harness::ledger::Attempt],
) -> Result<Vec<String>, String> {
    let mut findings = Vec::new();
    if let Some(code) = injected.exit_code.filter(|code| *code != 0) {
        findings.push(format!(
            "the app container exited with code {code} after SIGTERM, expected 0"
        ));
    }
    let logs = run
        .app_logs()
        .await
        .map_err(|error| format!("reading the app container logs failed: {error}"))?;
    if let Some(stopped) = logs.iter().rev().nth(1) {
        let text = String::from_utf8_lossy(&stopped.stdout);
        if text.contains("abandoning the requests still running") {
            findings.push(format!(
                "the log of the stopped app container {} says it abandoned requests still \
                 running at SIGTERM",
                stopped.container
            ));
        }
    }
    findings.extend(judge::abandoned_in_flight(attempts, injected.start));
    Ok(findings)
}

/// Heals a fault whose injection or healing failed halfway, so the run can shut down cleanly.
/// Errors are logged, because the caller already reports the first failure.
async fn heal_after_error(run: &Run, fault: Fault) {
    let Some(postgres) = run.postgres() else {
        return;
    };
    let docker = run.docker();
    let healed = match fault {
        Fault::Pause | Fault::Stutter => harness::fault::unpause(docker, postgres.name()).await,
        Fault::Partition => {
            let network = harness::network::network_name(run.names_id());
            harness::fault::connect(docker, &network, postgres.name()).await
        }
        Fault::AppSignal(_) | Fault::PostgresSignal(_) => Ok(()),
    };
    if let Err(error) = healed {
        tracing::warn!(%error, "healing the fault after a failed drill failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stutter_drill() -> Drill {
        Drill {
            check: "chaos.latency",
            fault: Fault::Stutter,
            hold_ms: 2000..=4000,
        }
    }

    #[test]
    fn repro_details_replay_by_seed() {
        let details = repro_details(&stutter_drill(), 77, "1 lost write");

        assert_eq!(details.seed.as_deref(), Some("77"));
        assert_eq!(
            details.env,
            vec![(schedule::SEED_VAR.to_owned(), "77".to_owned())]
        );
        assert!(details.validate_args.is_empty());
    }

    #[test]
    fn fault_schedule_lists_drawn_times() {
        let schedule = Schedule::from_seed(77, 2000..=4000);

        let details = repro_details(&stutter_drill(), 77, "1 lost write");

        let file = details
            .files
            .iter()
            .find(|file| file.name == "fault-schedule.txt")
            .expect("the details should contain fault-schedule.txt");
        let lead_in = format!("lead-in: {} ms", schedule.lead_in.as_millis());
        assert!(file.contents.contains(&lead_in), "{}", file.contents);
        let hold = format!("fault duration: {} ms", schedule.hold.as_millis());
        assert!(file.contents.contains(&hold), "{}", file.contents);
        assert!(file.contents.contains("stutter"), "{}", file.contents);
        assert!(file.contents.contains("1 lost write"), "{}", file.contents);
    }
}
