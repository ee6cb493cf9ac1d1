//! The lanes of `harness validate`: concurrent runs under one run id, each with its own
//! network, Postgres and app. Sharing where it is safe, isolation where a check changes the
//! server:
//!
//! - `main`: the migration, CRUD, errors, least-privilege and leak checks, on test-only
//!   Postgres, because none of them tests durability;
//! - `rotation`: the rotation drills, which change role passwords on the server, on durable
//!   Postgres;
//! - `crashes` and `chaos`: the restart and chaos checks on durable Postgres, split in two
//!   because their deliberate outage windows add up to more than the rest of the run;
//! - `isolation`: `access.isolation`, whose Postgres has no published port.
//!
//! Every lane other than `main` runs app containers, so, when a leak check is selected, each
//! hands its [`LaneEvidence`] to the leak checks in `main` before it shuts down, and they wait
//! for all of it.
//!
//! Every lane's containers and network carry the run id, so `harness gc --run`, Ctrl-C and
//! `--keep` treat them as one run, and each lane's shutdown removes only its own resources.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::config::{Config, ImageRef};
use harness::durability::Durability;
use harness::labels::RunId;
use harness::postgres::DataFolder;
use harness::repro::RunInputs;
use harness::run::{MAIN_LANE, Run, RunOptions};
use harness::scan::Canary;
use harness::topology::Topology;
use scenarios::lane_evidence::LaneEvidence;
use scenarios::{access_isolation, leaks_credentials, rotation};
use tokio::sync::oneshot;

use crate::repro::{self, RunEnd};

/// Lane of the rotation drills.
pub const ROTATION_LANE: &str = "rotation";
/// Lane of the restart checks and `chaos.postgres_crash`.
pub const CRASHES_LANE: &str = "crashes";
/// Lane of the network and freeze chaos checks.
pub const CHAOS_LANE: &str = "chaos";
/// Lane of `access.isolation`.
pub const ISOLATION_LANE: &str = "isolation";

/// Deadline for the evidence of every lane, counted from the start of the leak checks' wait.
/// Every step of a lane has a deadline of its own (start, readiness, each check's phases), so
/// this only bounds a lane that hangs in a step without one.
pub const EVIDENCE_TIMEOUT: Duration = Duration::from_secs(600);

/// Sending half of a lane's handover to the leak checks: its evidence, or why there is none.
pub type EvidenceSender = oneshot::Sender<Result<LaneEvidence, String>>;

/// Receiving half of a lane's handover to the leak checks.
pub type EvidenceReceiver = oneshot::Receiver<Result<LaneEvidence, String>>;

/// One lane: its name, the checks it runs, and its Postgres settings.
#[derive(Clone, Copy, Debug)]
pub struct Lane {
    /// Lane name, the value of its lane label.
    pub name: &'static str,
    /// Names of its checks, in the order it runs them.
    pub checks: &'static [&'static str],
    /// Durability settings of its Postgres.
    pub durability: Durability,
    /// Location of its Postgres data folder: a volume for a lane with a check that stops
    /// Postgres or with durable settings, memory otherwise.
    pub postgres_data: DataFolder,
    /// Network layout of its run.
    pub topology: Topology,
}

/// The lanes, `main` first. Every check of [`scenarios::CHECKS`] is in exactly one of them.
pub const LANES: [Lane; 5] = [
    Lane {
        name: MAIN_LANE,
        checks: &[
            scenarios::migrations_replay::NAME,
            scenarios::migrations_stepwise::NAME,
            scenarios::migrations_tamper::NAME,
            scenarios::migrations_lint::NAME,
            scenarios::migrations_roundtrip::NAME,
            scenarios::crud_smoke::NAME,
            scenarios::crud_properties::NAME,
            scenarios::access_least_privilege::NAME,
            scenarios::errors_sanitized::NAME,
            scenarios::leaks_password_hash::NAME,
            scenarios::leaks_credentials::NAME,
        ],
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Volume,
        topology: Topology::PublishedPort,
    },
    Lane {
        name: ROTATION_LANE,
        checks: &[
            rotation::update_env::NAME,
            rotation::stale_env::NAME,
            rotation::alternating_users::NAME,
            rotation::expiry::NAME,
        ],
        durability: Durability::Durable,
        postgres_data: DataFolder::Volume,
        topology: Topology::PublishedPort,
    },
    Lane {
        name: CRASHES_LANE,
        checks: &[
            scenarios::restarts_app_graceful::NAME,
            scenarios::restarts_app_crash::NAME,
            scenarios::restarts_postgres_fast::NAME,
            scenarios::chaos_postgres_crash::NAME,
        ],
        durability: Durability::Durable,
        postgres_data: DataFolder::Volume,
        topology: Topology::PublishedPort,
    },
    Lane {
        name: CHAOS_LANE,
        checks: &[
            scenarios::chaos_partition::NAME,
            scenarios::chaos_pause::NAME,
            scenarios::chaos_latency::NAME,
        ],
        durability: Durability::Durable,
        postgres_data: DataFolder::Volume,
        topology: Topology::PublishedPort,
    },
    Lane {
        name: ISOLATION_LANE,
        checks: &[access_isolation::NAME],
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        topology: Topology::ProductionLike,
    },
];

/// Returns the lane named `name`.
pub fn lane(name: &str) -> &'static Lane {
    LANES
        .iter()
        .find(|lane| lane.name == name)
        .expect("every lane name is in LANES")
}

/// Settings every lane shares: the run id, the configuration and the end-of-run options.
pub struct LaneContext {
    /// Settings of the run.
    pub config: Config,
    /// Run id of every lane.
    pub run_id: RunId,
    /// App image of every lane.
    pub app_image: Option<ImageRef>,
    /// Folder of the repro bundles.
    pub report_dir: PathBuf,
    /// Run inputs that the bundles' replay commands repeat.
    pub inputs: RunInputs,
    /// Whether a lane with a failed check is kept running (`--keep`).
    pub keep: bool,
}

/// The end of one lane: its results, its role passwords for the final-output scan and how its
/// run ended.
pub struct LaneOutcome {
    /// Lane name.
    pub lane: &'static str,
    /// Results of its checks, in the order it ran them.
    pub checks: Vec<CheckResult>,
    /// Its role passwords, retired ones included, or none when its run did not start.
    pub canaries: Vec<Canary>,
    /// Its bundles, kept run and shutdown error, or `None` when its run did not start.
    pub run_end: Option<RunEnd>,
    /// Reason its run did not start, if so.
    pub start_error: Option<String>,
    /// Time from the lane's start to the end of its shutdown.
    pub elapsed: Duration,
}

impl LaneOutcome {
    /// Builds the outcome of a lane whose run did not start or whose task ended without a
    /// result: each of its `selected` checks is an error with `message`.
    pub fn failed(lane: &'static str, selected: &[&str], message: &str, started: Instant) -> Self {
        let checks = errors(selected, message, started);
        Self {
            lane,
            checks,
            canaries: Vec::new(),
            run_end: None,
            start_error: Some(message.to_owned()),
            elapsed: started.elapsed(),
        }
    }
}

/// Starts the run of `lane`: its network, Postgres and the bootstrapped database.
pub async fn start_run(context: &LaneContext, lane: &Lane) -> Result<Run, String> {
    let options = RunOptions {
        run_id: Some(context.run_id.clone()),
        app_image: context.app_image.clone(),
        keep: context.keep,
        durability: lane.durability,
        postgres_data: lane.postgres_data,
        topology: lane.topology,
        lane: Some(lane.name.to_owned()),
        ..RunOptions::default()
    };
    Run::start_with_config(context.config.clone(), options)
        .await
        .map_err(|error| format!("lane {} did not start: {error}", lane.name))
}

/// Returns an error result with `message` for each of the `selected` checks, and logs each as
/// finished, as a check that ran does, so that the progress line counts it.
fn errors(selected: &[&str], message: &str, started: Instant) -> Vec<CheckResult> {
    selected
        .iter()
        .map(|name| {
            let result = CheckResult::error(name, started.elapsed(), message.to_owned());
            tracing::info!(
                check = *name,
                status = ?result.status,
                message = %result.message,
                "check finished"
            );
            result
        })
        .collect()
}

/// Starts the run of `lane`, applies the migrations and starts the app. Returns the run and
/// whether preparing it worked, or the reason the run itself did not start (Docker, the
/// network, Postgres or the bootstrap). A run whose migrations or app failed is returned, so
/// that its checks become errors and its bundles hold the app log.
pub async fn start(
    context: &LaneContext,
    lane: &Lane,
) -> Result<(Run, Result<(), String>), String> {
    let mut run = start_run(context, lane).await?;
    let prepared = prepare(&mut run).await.map_err(|message| {
        let message = harness::redact::redact(&message);
        tracing::error!(lane = lane.name, error = %message, "preparing the lane failed");
        message
    });
    Ok((run, prepared))
}

async fn prepare(run: &mut Run) -> Result<(), String> {
    run.apply_migrations()
        .await
        .map_err(|error| format!("applying the migrations failed: {error}"))?;
    run.start_app()
        .await
        .map_err(|error| format!("the app did not start: {error}"))
}

/// Ends a lane whose run did not start: sends the reason to the leak checks, if they wait for
/// the lane's evidence, and turns each of its `selected` checks into an error.
fn not_started(
    lane: &'static str,
    selected: &[&str],
    message: &str,
    evidence: Option<EvidenceSender>,
    started: Instant,
) -> LaneOutcome {
    if let Some(sender) = evidence {
        sender.send(Err(message.to_owned())).ok();
    }
    LaneOutcome::failed(lane, selected, message, started)
}

/// Ends a lane that ran: sends its [`LaneEvidence`] to `evidence`, when the leak checks wait
/// for it, reads its role passwords, writes the bundles of its failed checks, and keeps or
/// shuts down its run.
pub async fn finish(
    context: &LaneContext,
    lane: &'static str,
    run: Run,
    checks: Vec<CheckResult>,
    evidence: Option<EvidenceSender>,
    started: Instant,
) -> LaneOutcome {
    if let Some(sender) = evidence {
        sender.send(LaneEvidence::collect(&run).await).ok();
    }
    let canaries = leaks_credentials::canaries(run.deployment());
    let run_end = repro::end_run(
        run,
        &checks,
        &context.report_dir,
        &context.inputs,
        context.keep,
    )
    .await;
    let elapsed = started.elapsed();
    tracing::info!(
        lane,
        elapsed_ms = elapsed.as_millis() as u64,
        "lane finished"
    );
    LaneOutcome {
        lane,
        checks,
        canaries,
        run_end: Some(run_end),
        start_error: None,
        elapsed,
    }
}

/// Runs the selected rotation drills (`selected`, in [`LANES`] order) in the rotation lane, and
/// sends the lane's [`LaneEvidence`] to `evidence` before shutting the lane down, or the reason
/// there is none.
pub async fn run_rotation(
    context: Arc<LaneContext>,
    selected: Vec<&'static str>,
    evidence: Option<EvidenceSender>,
) -> LaneOutcome {
    let started = Instant::now();
    let lane = lane(ROTATION_LANE);
    let (mut run, prepared) = match start(&context, lane).await {
        Ok(started_run) => started_run,
        Err(message) => return not_started(lane.name, &selected, &message, evidence, started),
    };

    let checks = match prepared {
        Ok(()) => {
            let mut checks = Vec::new();
            for name in selected {
                let result = match name {
                    rotation::update_env::NAME => rotation::update_env::run(&mut run).await,
                    rotation::stale_env::NAME => rotation::stale_env::run(&mut run).await,
                    rotation::alternating_users::NAME => {
                        rotation::alternating_users::run(&mut run).await
                    }
                    rotation::expiry::NAME => rotation::expiry::run(&mut run).await,
                    _ => unreachable!("the rotation lane runs only rotation drills"),
                };
                checks.push(result);
            }
            checks
        }
        Err(message) => errors(&selected, &message, started),
    };
    finish(&context, lane.name, run, checks, evidence, started).await
}

/// Runs the selected restart and chaos checks of `lane` (`selected`, in [`LANES`] order), and
/// sends the lane's [`LaneEvidence`] to `evidence` as [`run_rotation`] does.
pub async fn run_faults(
    context: Arc<LaneContext>,
    lane: &'static Lane,
    selected: Vec<&'static str>,
    evidence: Option<EvidenceSender>,
) -> LaneOutcome {
    let started = Instant::now();
    let (mut run, prepared) = match start(&context, lane).await {
        Ok(started_run) => started_run,
        Err(message) => return not_started(lane.name, &selected, &message, evidence, started),
    };

    // Each check judges its own error responses with the errors.sanitized rules, because
    // errors.sanitized runs in the main lane and does not see this one.
    let checks = match prepared {
        Ok(()) => {
            let mut checks = Vec::new();
            for name in selected {
                let result = scenarios::run_fault_check(&mut run, name)
                    .await
                    .expect("the fault lanes run only FAULT_CHECKS");
                checks.push(result);
            }
            checks
        }
        Err(message) => errors(&selected, &message, started),
    };
    finish(&context, lane.name, run, checks, evidence, started).await
}

/// Runs `access.isolation` in the isolation lane, whose Postgres has no published port, and
/// sends the lane's [`LaneEvidence`] to `evidence` as [`run_rotation`] does.
pub async fn run_isolation(
    context: Arc<LaneContext>,
    evidence: Option<EvidenceSender>,
) -> LaneOutcome {
    let started = Instant::now();
    let lane = lane(ISOLATION_LANE);
    let selected = [access_isolation::NAME];
    let (run, prepared) = match start(&context, lane).await {
        Ok(started_run) => started_run,
        Err(message) => return not_started(lane.name, &selected, &message, evidence, started),
    };

    let checks = match prepared {
        Ok(()) => vec![access_isolation::run(&run).await],
        Err(message) => errors(&selected, &message, started),
    };
    finish(&context, lane.name, run, checks, evidence, started).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_in_one_lane() {
        for name in scenarios::CHECKS {
            let lanes: Vec<&str> = LANES
                .iter()
                .filter(|lane| lane.checks.contains(name))
                .map(|lane| lane.name)
                .collect();
            assert_eq!(
                lanes.len(),
                1,
                "{name} should be in one lane, is in {lanes:?}"
            );
        }
        let in_lanes: usize = LANES.iter().map(|lane| lane.checks.len()).sum();
        assert_eq!(
            in_lanes,
            scenarios::CHECKS.len(),
            "the lanes should hold every check once"
        );
    }

    #[test]
    fn durability_checks_get_durable_lanes() {
        for lane in LANES {
            for name in lane.checks {
                let under_test =
                    scenarios::FAULT_CHECKS.contains(name) || name.starts_with("rotation.");
                let expected = if under_test {
                    Durability::Durable
                } else {
                    Durability::TestOnly
                };
                assert_eq!(
                    lane.durability, expected,
                    "{name} runs in lane {}, whose Postgres should be {expected:?}",
                    lane.name
                );
            }
        }
    }

    #[test]
    fn lane_data_folder_matches_checks() {
        for lane in LANES {
            let stops = lane
                .checks
                .iter()
                .find(|name| scenarios::STOPS_POSTGRES.contains(name));
            // Durability under test means data on disk; a stop would empty memory.
            let expected = match (lane.durability, stops) {
                (Durability::TestOnly, None) => DataFolder::Memory,
                _ => DataFolder::Volume,
            };
            assert_eq!(
                lane.postgres_data, expected,
                "lane {} ({:?} durability, stopping check {stops:?}) should keep its data in \
                 {expected:?}",
                lane.name, lane.durability
            );
        }
    }

    #[test]
    fn lane_checks_keep_canonical_order() {
        for lane in LANES {
            let positions: Vec<usize> = lane
                .checks
                .iter()
                .map(|name| {
                    scenarios::CHECKS
                        .iter()
                        .position(|check| check == name)
                        .expect("a lane's check should be in CHECKS")
                })
                .collect();
            let mut sorted = positions.clone();
            sorted.sort_unstable();
            assert_eq!(
                positions, sorted,
                "lane {} should run its checks in CHECKS order",
                lane.name
            );
        }
    }
}
