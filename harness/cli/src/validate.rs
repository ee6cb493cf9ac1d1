//! `harness validate`: one run with the selected checks, a results table and report.json.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use harness::app_image;
use harness::check::{CheckResult, Status};
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::config::Config;
use harness::error::Error;
use harness::gc::{GcMode, collect_garbage};
use harness::images::{self, BaseImage};
use harness::labels::{self, RunId};
use harness::owner::Owner;
use harness::report::{Report, render_table};
use harness::run::{Run, RunOptions};
use harness::signals;
use scenarios::crud_properties::{self, Regressions, ReplayCommand};
use scenarios::{crud_smoke, migrations_replay};

use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, print_error};

/// Cases of crud.properties when neither `--cases` nor PROPTEST_CASES is given.
const DEFAULT_PROPERTY_CASES: u32 = 64;

/// The crud.properties flags of `harness validate`.
pub struct PropertiesArgs {
    /// `--cases`.
    pub cases: Option<u32>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--replay`.
    pub replay: Option<String>,
}

impl PropertiesArgs {
    /// Builds the check's options: the flags over the environment.
    fn options(self) -> Result<crud_properties::Options, String> {
        let mut options =
            crud_properties::Options::from_env(DEFAULT_PROPERTY_CASES, ReplayCommand::Validate)?;
        if let Some(cases) = self.cases {
            options.cases = cases;
        }
        if let Some(seed) = self.seed {
            options.seed = seed;
        }
        if let Some(replay) = self.replay {
            options.regressions = Regressions::Replay(replay);
        }
        Ok(options)
    }
}

/// Runs `harness validate` and returns the exit status.
pub async fn validate(
    only: Vec<String>,
    report_dir: Option<PathBuf>,
    properties: PropertiesArgs,
) -> u8 {
    let mut selection = match Selection::parse(&only) {
        Ok(selection) => selection,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    selection.properties_options = match properties.options() {
        Ok(options) => Some(options),
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };

    let run_id = RunId::generate();
    let started_at = Utc::now();
    let started = Instant::now();
    let report_dir = report_dir.unwrap_or_else(|| config.default_report_dir(&run_id));

    let outcome = tokio::select! {
        outcome = run_checks(config, run_id.clone(), &selection) => outcome,
        signal = signals::interrupted() => {
            return interrupted(signal, &run_id).await;
        }
    };

    let checks = match outcome {
        Ok(checks) => checks,
        Err(error) if error.is_environment() => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
        Err(error) => {
            // The harness failed before a check could run, so each selected check gets the error.
            print_error(&error.to_string());
            let message = format!("the run could not start: {error}");
            selection
                .names()
                .map(|name| CheckResult::error(name, Duration::ZERO, message.clone()))
                .collect()
        }
    };

    let report = Report {
        run_id: run_id.to_string(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        checks,
    };
    println!("\nrun {run_id}\n{}", render_table(&report.checks));
    match report.write(&report_dir) {
        Ok(path) => println!("report written to {}", path.display()),
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_FAIL;
        }
    }
    tracing::info!(run_id = %run_id, duration_ms = report.duration_ms, "validate finished");

    if report.all_passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// Removes everything of the interrupted run and returns the exit status for it.
///
/// By the time this runs, the cancelled run future has been dropped, and a started [`Run`]
/// removed its resources in `Drop`. This sweep catches what a run still starting had created.
/// A second SIGINT or SIGTERM stops waiting for the sweep.
async fn interrupted(signal: &'static str, run_id: &RunId) -> u8 {
    eprintln!("interrupted by {signal}: removing the containers and network of run {run_id}");
    let sweep = async {
        let docker = harness::docker::connect().await?;
        cleanup::remove_run(&docker, run_id, CLEANUP_TIMEOUT).await
    };
    let result = tokio::select! {
        result = sweep => result,
        second = signals::interrupted() => {
            eprintln!("{second} again: stopped cleaning up. Run `harness gc` to remove what is left");
            return EXIT_INTERRUPTED;
        }
    };
    match result {
        Ok(_) => eprintln!("run {run_id} was interrupted and cleaned up"),
        Err(error) => print_error(&format!(
            "run {run_id} was interrupted, and cleanup failed: {error}"
        )),
    }
    EXIT_INTERRUPTED
}

/// Selection of the checks to run.
struct Selection {
    replay: bool,
    crud: bool,
    properties: bool,
    properties_options: Option<crud_properties::Options>,
}

impl Selection {
    /// Parses `--only`, where no names selects every check. Unknown names are rejected with the list
    /// of valid ones.
    fn parse(only: &[String]) -> Result<Self, String> {
        let names: Vec<&str> = only
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(Self {
                replay: true,
                crud: true,
                properties: true,
                properties_options: None,
            });
        }
        let unknown: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !scenarios::CHECKS.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown check name(s) in --only: {}; valid names: {}",
                unknown.join(", "),
                scenarios::CHECKS.join(", ")
            ));
        }
        Ok(Self {
            replay: names.contains(&migrations_replay::NAME),
            crud: names.contains(&crud_smoke::NAME),
            properties: names.contains(&crud_properties::NAME),
            properties_options: None,
        })
    }

    /// Returns the selected check names, in run order.
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            (self.replay, migrations_replay::NAME),
            (self.crud, crud_smoke::NAME),
            (self.properties, crud_properties::NAME),
        ]
        .into_iter()
        .filter_map(|(selected, name)| selected.then_some(name))
    }
}

/// Prepares the images, reaps dead runs, starts the run and runs the selected checks.
async fn run_checks(
    config: Config,
    run_id: RunId,
    selection: &Selection,
) -> Result<Vec<CheckResult>, Error> {
    let docker = harness::docker::connect().await?;

    // Every image first, so that a missing one stops the run before any container starts.
    images::ensure_base_image(&docker, &config, BaseImage::Postgres).await?;
    let app_image = if selection.crud || selection.properties {
        let labels = labels::run_labels(&run_id, &Owner::current());
        Some(app_image::ensure_app_image(&docker, &config, &[], &labels).await?)
    } else {
        None
    };

    let reaped = collect_garbage(&docker, GcMode::DeadRuns).await?;
    for removed in &reaped.removed {
        tracing::info!("reaped {removed} (its process has exited)");
    }

    let mut run = Run::start_with_config(
        config,
        RunOptions {
            run_id: Some(run_id),
            app_image,
            ..RunOptions::default()
        },
    )
    .await?;

    let checks = run_selected(&mut run, selection).await;
    if let Err(error) = run.shutdown().await {
        // The verdicts stand, and the leftovers are reported and make the exit status 1.
        print_error(&error.to_string());
        let mut checks = checks;
        checks.push(CheckResult::error(
            "harness.cleanup",
            Duration::ZERO,
            format!("removing the run's containers and network failed: {error}"),
        ));
        return Ok(checks);
    }
    Ok(checks)
}

/// Runs the selected checks on a started run. `migrations.replay` migrates the fresh database
/// itself. Without it, the harness applies the migrations before the app starts.
async fn run_selected(run: &mut Run, selection: &Selection) -> Vec<CheckResult> {
    let mut checks = Vec::new();

    let mut replay_passed = false;
    if selection.replay {
        let result = migrations_replay::run(run.deployment()).await;
        replay_passed = result.status == Status::Pass;
        checks.push(result);
    }
    // After a failed replay the database may be partly migrated. The migrator applies what is
    // missing or reports why it cannot.
    let migrated = if replay_passed {
        Ok(())
    } else {
        run.apply_migrations()
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    };

    if selection.crud {
        let started = Instant::now();
        let result = match migrated {
            Err(reason) => CheckResult::error(
                crud_smoke::NAME,
                started.elapsed(),
                format!("the database is not migrated, so the app cannot start: {reason}"),
            ),
            Ok(()) => match run.start_app().await {
                Ok(()) => crud_smoke::run(run.deployment()).await,
                Err(error) => CheckResult::error(
                    crud_smoke::NAME,
                    started.elapsed(),
                    format!("the app did not start: {error}"),
                ),
            },
        };
        checks.push(result);
    }

    // crud.properties builds its own template database from the migrations and runs against
    // a clone of it, with an app container of its own.
    if selection.properties
        && let Some(options) = &selection.properties_options
    {
        checks.push(crud_properties::run_on_clone(run, options).await.result);
    }
    checks
}
