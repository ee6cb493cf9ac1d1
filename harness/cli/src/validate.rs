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
use harness::scan::Scanner;
use harness::signals;
use scenarios::{
    crud_smoke, errors_sanitized, leaks_credentials, leaks_password_hash, migrations_replay,
};

use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, print_error};

/// Runs `harness validate` and returns the exit status.
pub async fn validate(only: Vec<String>, report_dir: Option<PathBuf>) -> u8 {
    let selection = match Selection::parse(&only) {
        Ok(selection) => selection,
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

    let (checks, output_scanner) = match outcome {
        Ok(outcome) => outcome,
        Err(error) if error.is_environment() => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
        Err(error) => {
            // The harness failed before a check could run, so each selected check gets the error.
            print_error(&error.to_string());
            let message = format!("the run could not start: {error}");
            let checks = selection
                .names()
                .map(|name| CheckResult::error(name, Duration::ZERO, message.clone()))
                .collect();
            (checks, None)
        }
    };

    let mut report = Report {
        run_id: run_id.to_string(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        checks,
    };
    if let Some(scanner) = &output_scanner {
        scan_final_output(scanner, &mut report);
    }
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

/// Scans the table and report.json as they will be printed and written for the run's role
/// passwords and connection strings. A finding fails `leaks.credentials`.
fn scan_final_output(scanner: &Scanner, report: &mut Report) {
    let table = render_table(&report.checks);
    let json = match report.to_json() {
        Ok(json) => json,
        Err(error) => {
            print_error(&error.to_string());
            return;
        }
    };
    let findings = leaks_credentials::scan_final_output(
        scanner,
        &[("the results table", &table), ("report.json", &json)],
    );
    if findings.is_empty() {
        return;
    }
    if let Some(check) = report
        .checks
        .iter_mut()
        .find(|check| check.name == leaks_credentials::NAME)
    {
        let mut all = check.findings.clone();
        all.extend(findings);
        *check = CheckResult::from_findings(
            leaks_credentials::NAME,
            Duration::from_millis(check.duration_ms),
            check.message.clone(),
            all,
        );
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
    errors: bool,
    password_hash: bool,
    credentials: bool,
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
                errors: true,
                password_hash: true,
                credentials: true,
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
            errors: names.contains(&errors_sanitized::NAME),
            password_hash: names.contains(&leaks_password_hash::NAME),
            credentials: names.contains(&leaks_credentials::NAME),
        })
    }

    /// Returns the selected check names, in run order.
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            (self.replay, migrations_replay::NAME),
            (self.crud, crud_smoke::NAME),
            (self.errors, errors_sanitized::NAME),
            (self.password_hash, leaks_password_hash::NAME),
            (self.credentials, leaks_credentials::NAME),
        ]
        .into_iter()
        .filter_map(|(selected, name)| selected.then_some(name))
    }

    /// Returns whether a selected check needs the app container.
    fn needs_app(&self) -> bool {
        self.crud || self.errors || self.password_hash || self.credentials
    }
}

/// Prepares the images, reaps dead runs, starts the run and runs the selected checks. With
/// `leaks.credentials` selected, it also returns the scanner for the run's canaries, which the
/// final output is scanned with after the run's containers are gone.
async fn run_checks(
    config: Config,
    run_id: RunId,
    selection: &Selection,
) -> Result<(Vec<CheckResult>, Option<Scanner>), Error> {
    let docker = harness::docker::connect().await?;

    // Every image first, so that a missing one stops the run before any container starts.
    images::ensure_base_image(&docker, &config, BaseImage::Postgres).await?;
    let app_image = if selection.needs_app() {
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
    let output_scanner = if selection.credentials {
        match leaks_credentials::scanner(run.deployment()) {
            Ok(scanner) => Some(scanner),
            Err(message) => {
                print_error(&message);
                None
            }
        }
    } else {
        None
    };
    if let Err(error) = run.shutdown().await {
        // The verdicts stand, and the leftovers are reported and make the exit status 1.
        print_error(&error.to_string());
        let mut checks = checks;
        checks.push(CheckResult::error(
            "harness.cleanup",
            Duration::ZERO,
            format!("removing the run's containers and network failed: {error}"),
        ));
        return Ok((checks, output_scanner));
    }
    Ok((checks, output_scanner))
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

    if !selection.needs_app() {
        return checks;
    }
    let started = Instant::now();
    let app_started = match migrated {
        Err(reason) => Err(format!(
            "the database is not migrated, so the app cannot start: {reason}"
        )),
        Ok(()) => run
            .start_app()
            .await
            .map_err(|error| format!("the app did not start: {error}")),
    };
    if let Err(message) = app_started {
        checks.extend(
            selection
                .names()
                .filter(|name| *name != migrations_replay::NAME)
                .map(|name| CheckResult::error(name, started.elapsed(), message.clone())),
        );
        return checks;
    }

    if selection.crud {
        checks.push(crud_smoke::run(run.deployment()).await);
    }
    // After crud.smoke, so that its error responses are judged too; before the leak checks,
    // so that they scan the catalogue's responses and the logs of its app containers.
    if selection.errors {
        checks.push(errors_sanitized::run(run).await);
    }
    if selection.password_hash {
        checks.push(leaks_password_hash::run(run).await);
    }
    if selection.credentials {
        checks.push(leaks_credentials::run(run).await);
    }
    checks
}
