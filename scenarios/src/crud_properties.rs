//! Check `crud.properties`. Proptest generates sequences of API calls from a reference model
//! of users, videos and localizations (proptest-state-machine), and the driver sends them to
//! the app. After every call the response must match the model (status and every field), and
//! the database, read directly as the auditor role, must keep the invariants. A failing case
//! is shrunk to a short sequence and reported with its seeds and a replay command.
//!
//! Each run gets a database cloned from the template database and an app container of its own;
//! between cases the driver empties the tables and restarts their identities as lv_migrator
//! while the app keeps running.

mod calls;
mod concurrency;
mod driver;
mod inputs;
mod invariants;
mod model;
mod reproduction;
mod responses;
mod transitions;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use harness::check::CheckResult;
use harness::deployment::Deployment;
use harness::reset::{ResetStrategy, TableReset};
use harness::run::Run;
use harness::template::TemplateDatabase;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

use crate::redact::redact;
use driver::{CaseFailure, Driver};
pub use reproduction::{CASE_SEED_FORM, Regressions, parse_case_seed, regressions_path};
use reproduction::{SeedLedger, persist_seed, render_sequence};
use transitions::CrudMachine;

/// Stable check name.
pub const NAME: &str = "crud.properties";

/// Variable with the number of cases (proptest's own name).
pub const CASES_VAR: &str = "PROPTEST_CASES";
/// Variable with a fixed u64 seed (proptest's own name).
pub const SEED_VAR: &str = "PROPTEST_RNG_SEED";
/// Variable with one case seed (`cc <hex>`) to replay instead of generating cases.
pub const REPLAY_VAR: &str = "CRUD_PROPERTIES_REPLAY";

/// Maximum calls in one case.
pub const DEFAULT_MAX_CALLS: usize = 40;

/// Limit of shrink steps. Each step re-runs a whole sequence (a reset and up to 40 calls, tens
/// of milliseconds), so this bounds shrinking to minutes in the worst case.
const MAX_SHRINK_ITERS: u32 = 2_000;
/// Limit of the time spent shrinking, in milliseconds.
const MAX_SHRINK_TIME_MS: u32 = 180_000;

/// Reset strategy between cases. DELETE in one transaction and one round trip was
/// the fastest correct strategy in the `reset_strategies` benchmark (docs/benchmarks.md):
/// TRUNCATE creates new files for every table and index and syncs them at commit, which took
/// tens of times longer on fuse-overlayfs.
const RESET_STRATEGY: ResetStrategy = ResetStrategy::DeleteAll;

/// Command that replays a failing case, shown in the report.
#[derive(Clone, Debug)]
pub enum ReplayCommand {
    /// `harness validate --only crud.properties [--config FILE] [--app-image IMAGE] --replay
    /// <seed>`.
    Validate {
        /// App image the run validated, which the replay must validate too.
        app_image: Option<String>,
        /// Configuration file the run read, which the replay must read too.
        config_file: Option<String>,
    },
    /// A nextest test that honours [`REPLAY_VAR`].
    Test {
        /// Test binary (`--test` argument).
        binary: String,
        /// Test name.
        test: String,
    },
}

impl ReplayCommand {
    /// Renders the command for the case seed `case_seed`.
    pub fn render(&self, case_seed: &str) -> String {
        match self {
            ReplayCommand::Validate {
                app_image,
                config_file,
            } => {
                let config = match config_file {
                    Some(file) => format!(" --config {}", shell_quote(file)),
                    None => String::new(),
                };
                let image = match app_image {
                    Some(image) => format!(" --app-image {}", shell_quote(image)),
                    None => String::new(),
                };
                format!(
                    "cargo run -p harness-cli -- validate --only {NAME}{config}{image} --replay \
                     '{case_seed}'"
                )
            }
            ReplayCommand::Test { binary, test } => format!(
                "{REPLAY_VAR}='{case_seed}' cargo nextest run -p scenarios --test {binary} {test}"
            ),
        }
    }
}

/// Returns `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Settings of one run of the check.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of generated cases (after the replayed regressions).
    pub cases: u32,
    /// Seed of the generator; the same seed generates the same cases.
    pub seed: u64,
    /// Maximum calls in one case.
    pub max_calls: usize,
    /// Source and destination of failing seeds, or the one case to replay.
    pub regressions: Regressions,
    /// Replay command that the report prints for a failure.
    pub replay_command: ReplayCommand,
    /// Whether the concurrency properties run after the sequences (never when replaying).
    pub concurrency: bool,
}

impl Options {
    /// Builds options from the environment: [`CASES_VAR`] (else `default_cases`), [`SEED_VAR`]
    /// (else a random seed, which the report prints), and [`REPLAY_VAR`]. An empty variable
    /// counts as unset. The regressions file is [`regressions_path`].
    pub fn from_env(default_cases: u32, replay_command: ReplayCommand) -> Result<Self, String> {
        Self::from_lookup(
            |name| std::env::var(name).ok(),
            default_cases,
            replay_command,
        )
    }

    /// Builds options like [`Options::from_env`], reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_cases: u32,
        replay_command: ReplayCommand,
    ) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let cases = match get(CASES_VAR) {
            Some(text) => match text.trim().parse::<u32>() {
                Ok(cases) if cases > 0 => cases,
                _ => {
                    return Err(format!(
                        "invalid {CASES_VAR}={text:?}: expected a whole number from 1 to {}",
                        u32::MAX
                    ));
                }
            },
            None => default_cases,
        };
        let seed = match get(SEED_VAR) {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("invalid {SEED_VAR}={text:?}: expected a u64"))?,
            None => rand::random(),
        };
        let regressions = match get(REPLAY_VAR) {
            Some(seed) => Regressions::Replay(
                parse_case_seed(&seed).map_err(|message| format!("{REPLAY_VAR}: {message}"))?,
            ),
            None => Regressions::File(regressions_path()),
        };
        Ok(Self {
            cases,
            seed,
            max_calls: DEFAULT_MAX_CALLS,
            regressions,
            replay_command,
            concurrency: true,
        })
    }
}

/// Target of the check: the app and the database clone it uses.
pub struct Target<'a> {
    /// Credentials and the Postgres address.
    pub deployment: &'a Deployment,
    /// Base URL of the app.
    pub app_url: &'a str,
    /// Database the app uses, which the check reads and resets.
    pub database: &'a str,
}

/// A failure, reduced and ready to replay.
#[derive(Clone, Debug)]
pub struct Reproduction {
    /// Seed of the run, or `None` when one case seed was replayed and no cases were generated.
    pub seed: Option<u64>,
    /// Seed of the failing case (`cc <hex>`), when proptest reported it.
    pub case_seed: Option<String>,
    /// The shrunk sequence, one line per call.
    pub calls: Vec<String>,
    /// Rule that the last call of the shrunk sequence broke.
    pub failure: String,
    /// Command that replays the case.
    pub command: Option<String>,
}

impl Reproduction {
    /// Renders the block printed on a failure.
    pub fn render(&self) -> String {
        let mut text = match (self.seed, &self.case_seed) {
            (Some(seed), _) => format!("{NAME} failed (seed {seed})\n"),
            (None, Some(case_seed)) => format!("{NAME} failed (replayed case {case_seed})\n"),
            (None, None) => format!("{NAME} failed\n"),
        };
        text.push_str(&format!("  failure: {}\n", self.failure));
        text.push_str(&format!(
            "  shrunk sequence ({} calls):\n",
            self.calls.len()
        ));
        for call in &self.calls {
            text.push_str(&format!("    {call}\n"));
        }
        if let Some(case_seed) = &self.case_seed {
            text.push_str(&format!("  case seed: {case_seed}\n"));
        }
        if let Some(command) = &self.command {
            text.push_str(&format!("  replay: {command}\n"));
        }
        text
    }
}

/// Result of the check and, for a failure, its reproduction.
pub struct Report {
    /// The check's result.
    pub result: CheckResult,
    /// The reduced failure, when the sequences found one.
    pub reproduction: Option<Reproduction>,
}

impl Report {
    fn error(started: Instant, message: impl Into<String>) -> Self {
        Self {
            result: CheckResult::error(NAME, started.elapsed(), message),
            reproduction: None,
        }
    }
}

/// Creates the template database of `run`, clones it, starts an app instance on the clone,
/// runs the check, and removes the instance and the clone.
pub async fn run_on_clone(run: &Run, options: &Options) -> Report {
    let started = Instant::now();
    let deployment = run.deployment();

    let template = match TemplateDatabase::create(deployment).await {
        Ok(template) => template,
        Err(error) => {
            return Report::error(
                started,
                format!("building the template database failed: {error}"),
            );
        }
    };
    let clone = match template.clone_database(deployment, "properties").await {
        Ok(clone) => clone,
        Err(error) => {
            return Report::error(
                started,
                format!("cloning the template database failed: {error}"),
            );
        }
    };
    let report = match run.start_app_instance("properties", clone.name()).await {
        Ok(instance) => {
            let target = Target {
                deployment,
                app_url: instance.url(),
                database: clone.name(),
            };
            let report = self::run(&target, options).await;
            if let Err(error) = run.remove_app_instance(instance).await {
                tracing::warn!(%error, "removing the app instance failed; the run's shutdown removes it");
            }
            report
        }
        Err(error) => Report::error(started, format!("the app instance did not start: {error}")),
    };
    if let Err(error) = clone.drop(deployment).await {
        tracing::warn!(%error, "dropping the database clone failed; it goes with the Postgres container");
    }
    report
}

/// Runs the sequences (and then the concurrency properties) against `target`.
pub async fn run(target: &Target<'_>, options: &Options) -> Report {
    let started = Instant::now();
    match &options.regressions {
        Regressions::Replay(case_seed) => tracing::info!(
            check = NAME,
            app_url = %target.app_url,
            database = %target.database,
            %case_seed,
            "check started: replaying one case"
        ),
        _ => tracing::info!(
            check = NAME,
            app_url = %target.app_url,
            database = %target.database,
            cases = options.cases,
            seed = options.seed,
            "check started"
        ),
    }

    let report = match run_sequences(target, options).await {
        Ok(mut driver_report) => {
            let replaying = matches!(options.regressions, Regressions::Replay(_));
            if options.concurrency
                && !replaying
                && driver_report.reproduction.is_none()
                && driver_report.error.is_none()
            {
                let outcome = concurrency::run(&mut driver_report.driver, options.seed).await;
                match outcome {
                    Ok(summary) => driver_report.summary.push_str(&format!("; {summary}")),
                    Err(concurrency::Failure::Finding(message)) => {
                        driver_report.findings.push(message)
                    }
                    Err(concurrency::Failure::Infrastructure(message)) => {
                        driver_report.error = Some(message)
                    }
                }
            }
            let (report, driver) = driver_report.into_report(started);
            driver.close().await;
            report
        }
        Err(message) => Report::error(started, redact(target.deployment, &message)),
    };

    let mut report = report;
    if let Some(reproduction) = &report.reproduction {
        // Through the progress display, which clears its status line first on a terminal.
        harness::progress::terminal::write_above(format!("{}\n", reproduction.render()).as_bytes());
    }
    report.result.repro = Some(match &report.reproduction {
        Some(reproduction) => reproduction.details(options.cases),
        None => reproduction::run_details(options),
    });
    tracing::info!(check = NAME, status = ?report.result.status, message = %report.result.message, "check finished");
    report
}

/// Result of the sequences: the driver for the concurrency properties and the verdict so far.
struct SequencesReport {
    driver: Driver,
    summary: String,
    findings: Vec<String>,
    reproduction: Option<Reproduction>,
    error: Option<String>,
}

impl SequencesReport {
    /// Builds the check's report and hands back the driver for closing.
    fn into_report(self, started: Instant) -> (Report, Driver) {
        if let Some(message) = self.error {
            return (Report::error(started, message), self.driver);
        }
        let mut findings = self.findings;
        if let Some(reproduction) = &self.reproduction {
            let mut lines = vec![format!(
                "the shrunk sequence of {} calls fails: {}",
                reproduction.calls.len(),
                reproduction.failure
            )];
            if let Some(seed) = reproduction.seed {
                lines.push(format!("seed {seed}"));
            }
            lines.extend(reproduction.calls.iter().map(|call| format!("call {call}")));
            if let Some(command) = &reproduction.command {
                lines.push(format!("replay: {command}"));
            }
            lines.append(&mut findings);
            findings = lines;
        }
        let report = Report {
            result: CheckResult::from_findings(NAME, started.elapsed(), self.summary, findings),
            reproduction: self.reproduction,
        };
        (report, self.driver)
    }
}

async fn run_sequences(target: &Target<'_>, options: &Options) -> Result<SequencesReport, String> {
    let deployment = target.deployment;
    let auditor = deployment
        .pool_on(&deployment.auditor, target.database)
        .await
        .map_err(|error| {
            format!(
                "cannot connect to {} as the auditor role: {error}; check that the clone exists",
                target.database
            )
        })?;
    let reset = TableReset::connect(deployment, target.database, RESET_STRATEGY)
        .await
        .map_err(|error| error.to_string())?;
    let handle = tokio::runtime::Handle::current();
    let driver = Driver::new(
        handle,
        target.app_url,
        auditor,
        reset,
        target.deployment.responses.clone(),
    )?;

    // The proptest thread outlives this future when a signal drops it, so the guard sets a flag
    // that stops it and keeps its seed out of the regressions file.
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancelled));
    let options = options.clone();
    tokio::task::spawn_blocking(move || run_proptest(driver, &options, &cancelled))
        .await
        .map_err(|error| format!("the property runner thread failed: {error}"))
}

/// Sets its flag when dropped, which happens when the future awaiting the proptest thread is
/// cancelled.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Decides whether a failing case's seed goes to the regressions file: only for a disagreement
/// with the model, in a run that was neither interrupted nor stopped by an infrastructure failure.
fn keeps_seed(
    result: &Result<(), TestError<impl std::fmt::Debug>>,
    infrastructure_failed: bool,
    cancelled: bool,
) -> bool {
    matches!(result, Err(TestError::Fail(..))) && !infrastructure_failed && !cancelled
}

/// Runs proptest on this (blocking) thread. Each case blocks on the runtime of the driver.
fn run_proptest(driver: Driver, options: &Options, cancelled: &AtomicBool) -> SequencesReport {
    let ledger = match SeedLedger::load(options.regressions.clone()) {
        Ok(ledger) => ledger,
        Err(message) => {
            return SequencesReport {
                driver,
                summary: String::new(),
                findings: Vec::new(),
                reproduction: None,
                error: Some(message),
            };
        }
    };
    let saved_seed = ledger.saved();
    let replaying = matches!(options.regressions, Regressions::Replay(_));
    // The runner replays the saved seeds before the new cases, and each is a case of its own.
    let cases_total =
        ledger.replayed() as u64 + u64::from(if replaying { 0 } else { options.cases });
    let config = Config {
        cases: if replaying { 0 } else { options.cases },
        failure_persistence: Some(Box::new(ledger)),
        fork: false,
        timeout: 0,
        max_shrink_iters: MAX_SHRINK_ITERS,
        max_shrink_time: MAX_SHRINK_TIME_MS,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(options.seed),
        verbose: 0,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = CrudMachine::sequential_strategy(1..=options.max_calls);

    let driver = RefCell::new(driver);
    let infrastructure: RefCell<Option<String>> = RefCell::new(None);
    let cases = Cell::new(0u32);
    let result = runner.run(&strategy, |(initial, calls, seen)| {
        if infrastructure.borrow().is_some() {
            return Err(TestCaseError::fail("no verdict: the infrastructure failed"));
        }
        if cancelled.load(Ordering::SeqCst) {
            *infrastructure.borrow_mut() = Some("the run was interrupted".to_owned());
            return Err(TestCaseError::fail("no verdict: the run was interrupted"));
        }
        cases.set(cases.get() + 1);
        // For the live progress display of `harness validate`.
        tracing::debug!(
            check = NAME,
            cases_done = cases.get(),
            cases_total,
            "case started"
        );
        // A panic in the driver (such as a runtime that shuts down after a signal) is no
        // verdict on the app, so it must not reach proptest as a failing case.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            driver
                .borrow_mut()
                .run_case(initial, &calls, seen.as_deref())
        }))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(CaseFailure::Infrastructure(format!(
                "the driver panicked: {message}"
            )))
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(CaseFailure::Finding { call, message }) => Err(TestCaseError::fail(format!(
                "call {call} of {}: {message}",
                calls.len()
            ))),
            Err(CaseFailure::Infrastructure(message)) => {
                *infrastructure.borrow_mut() = Some(message);
                Err(TestCaseError::fail("no verdict: the infrastructure failed"))
            }
        }
    });

    let driver = driver.into_inner();
    let executed = cases.get();
    let median = median(&driver.reset_times);
    let cases = match &options.regressions {
        Regressions::Replay(seed) => format!("replayed case {seed}"),
        _ => format!(
            "{} cases of 1 to {} calls (seed {})",
            options.cases, options.max_calls, options.seed
        ),
    };
    let summary = format!(
        "{cases}, {executed} sequences run: responses and database agree with the model; median \
         reset {:.1} ms",
        median.as_secs_f64() * 1000.0
    );
    let infrastructure = infrastructure.into_inner();
    let keep_seed = keeps_seed(
        &result,
        infrastructure.is_some(),
        cancelled.load(Ordering::SeqCst),
    );
    let mut report = SequencesReport {
        driver,
        summary,
        findings: Vec::new(),
        reproduction: None,
        error: infrastructure,
    };
    if report.error.is_some() {
        return report;
    }

    match result {
        Ok(()) => {}
        Err(TestError::Abort(reason)) => {
            report.error = Some(format!("proptest stopped without a verdict: {reason}"));
        }
        Err(TestError::Fail(reason, (initial, calls, _))) => {
            let case_seed = match &options.regressions {
                Regressions::Replay(seed) => Some(seed.clone()),
                _ => saved_seed.lock().ok().and_then(|seed| seed.clone()),
            };
            if let (true, Some(path), Some(seed)) = (
                keep_seed,
                options.regressions.seed_destination(),
                &case_seed,
            ) && let Err(error) = persist_seed(path, seed)
            {
                tracing::warn!(path = %path.display(), %error, "cannot write the failing seed to the regressions file");
            }
            let command = case_seed
                .as_deref()
                .map(|seed| options.replay_command.render(seed));
            report.reproduction = Some(Reproduction {
                seed: (!replaying).then_some(options.seed),
                case_seed,
                calls: render_sequence(&initial, &calls),
                failure: reason.to_string(),
                command,
            });
        }
    }
    report
}

fn median(times: &[Duration]) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_from(variables: &[(&str, &str)]) -> Result<Options, String> {
        let lookup = |name: &str| {
            variables
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        Options::from_lookup(
            lookup,
            64,
            ReplayCommand::Validate {
                app_image: None,
                config_file: None,
            },
        )
    }

    #[test]
    fn validate_replay_names_app_image() {
        let command = ReplayCommand::Validate {
            app_image: Some("localizevideos/app:rc1".to_owned()),
            config_file: None,
        };

        let rendered = command.render("cc 00ff");

        assert_eq!(
            rendered,
            "cargo run -p harness-cli -- validate --only crud.properties --app-image \
             'localizevideos/app:rc1' --replay 'cc 00ff'"
        );
    }

    #[test]
    fn validate_replay_names_config_file() {
        let command = ReplayCommand::Validate {
            app_image: None,
            config_file: Some("/cfg/fast bound's.toml".to_owned()),
        };

        let rendered = command.render("cc 00ff");

        assert_eq!(
            rendered,
            "cargo run -p harness-cli -- validate --only crud.properties --config \
             '/cfg/fast bound'\\''s.toml' --replay 'cc 00ff'"
        );
    }

    #[test]
    fn validate_replay_without_image() {
        let command = ReplayCommand::Validate {
            app_image: None,
            config_file: None,
        };

        let rendered = command.render("cc 00ff");

        assert_eq!(
            rendered,
            "cargo run -p harness-cli -- validate --only crud.properties --replay 'cc 00ff'"
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let options = options_from(&[(CASES_VAR, ""), (SEED_VAR, " "), (REPLAY_VAR, "")])
            .expect("empty variables should be ignored");

        assert_eq!(options.cases, 64);
        assert_eq!(options.regressions, Regressions::File(regressions_path()));
    }

    #[test]
    fn cases_variable_sets_cases() {
        let options = options_from(&[(CASES_VAR, "7")]).expect("7 is valid");

        assert_eq!(options.cases, 7);
    }

    #[test]
    fn zero_or_invalid_cases_rejected() {
        for value in ["0", "-1", "many"] {
            let error = options_from(&[(CASES_VAR, value)])
                .expect_err(&format!("{CASES_VAR}={value} should be rejected"));
            assert!(error.contains(&format!("{value:?}")), "{error}");
            assert!(error.contains("from 1 to"), "{error}");
        }
    }

    fn failed() -> Result<(), TestError<()>> {
        Err(TestError::Fail("call 1 of 1: status differs".into(), ()))
    }

    fn reproduction(seed: Option<u64>) -> Reproduction {
        Reproduction {
            seed,
            case_seed: Some(CASE_SEED.to_owned()),
            calls: vec!["1. GET /v1/users -> expected 200".to_owned()],
            failure: "status differs".to_owned(),
            command: None,
        }
    }

    const CASE_SEED: &str = "cc 0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn replay_report_names_case_seed() {
        let text = reproduction(None).render();

        assert!(
            text.starts_with(&format!("{NAME} failed (replayed case {CASE_SEED})")),
            "{text}"
        );
        assert!(!text.contains("(seed"), "{text}");
    }

    #[test]
    fn generated_report_names_run_seed() {
        let text = reproduction(Some(42)).render();

        assert!(
            text.starts_with(&format!("{NAME} failed (seed 42)")),
            "{text}"
        );
    }

    #[test]
    fn seed_kept_for_model_disagreement() {
        assert!(keeps_seed(&failed(), false, false));
    }

    #[test]
    fn seed_dropped_after_infrastructure_failure() {
        assert!(!keeps_seed(&failed(), true, false));
    }

    #[test]
    fn seed_dropped_after_interruption() {
        assert!(!keeps_seed(&failed(), false, true));
    }

    #[test]
    fn seed_dropped_when_proptest_aborts() {
        let aborted: Result<(), TestError<()>> = Err(TestError::Abort("too many rejects".into()));
        assert!(!keeps_seed(&aborted, false, false));
    }
}
