//! `harness validate`: one run with the selected checks, a results table and report.json.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use harness::app_image;
use harness::check::{CheckResult, Status};
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::config::{Config, ImageRef};
use harness::error::Error;
use harness::gc::{GcMode, collect_garbage};
use harness::image_prune::prune_app_images;
use harness::images::{self, BaseImage};
use harness::labels::{self, RunId};
use harness::owner::Owner;
use harness::report::{self, AppImage, Report, render_table};
use harness::repro::RunInputs;
use harness::run::{BUILD_WAIT_TIMEOUT, Run, RunOptions};
use harness::scan::Scanner;
use harness::signals;
use scenarios::crud_properties::{self, Regressions, ReplayCommand};
use scenarios::snapshot::{SCHEMA_SNAPSHOT, snapshot_path};
use scenarios::{
    access_isolation, access_least_privilege, crud_smoke, errors_sanitized, leaks_credentials,
    leaks_password_hash, migrations_lint, migrations_replay, migrations_roundtrip,
    migrations_stepwise, migrations_tamper, rotation,
};

use crate::preflight::check_inputs;
use crate::repro::{self, RunEnd};
use crate::selection::Selection;
use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_PASS, print_error};

/// Cases of crud.properties when neither `--cases` nor PROPTEST_CASES is given.
pub(crate) const DEFAULT_PROPERTY_CASES: u32 = 64;

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
    /// Returns the crud.properties flags that were given, such as `["--cases", "--seed"]`.
    fn given(&self) -> Vec<&'static str> {
        [
            (self.cases.is_some(), "--cases"),
            (self.seed.is_some(), "--seed"),
            (self.replay.is_some(), "--replay"),
        ]
        .into_iter()
        .filter_map(|(given, flag)| given.then_some(flag))
        .collect()
    }

    /// Rejects crud.properties flags when `--only` does not select crud.properties, because
    /// they would have no effect.
    fn check_selected(&self, selection: &Selection) -> Result<(), String> {
        let given = self.given();
        if selection.properties || given.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} only {} to {}, which --only does not select; add {} to --only or remove {}",
            given.join(", "),
            if given.len() == 1 { "applies" } else { "apply" },
            crud_properties::NAME,
            crud_properties::NAME,
            given.join(", ")
        ))
    }

    /// Builds the check's options: the flags over the environment.
    fn options(self) -> Result<crud_properties::Options, String> {
        let mut options = crud_properties::Options::from_env(
            DEFAULT_PROPERTY_CASES,
            ReplayCommand::Validate { app_image: None },
        )?;
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

/// Runs `harness validate` and returns the exit status (see `VALIDATE_EXIT_STATUS`).
pub async fn validate(
    only: Vec<String>,
    report_dir: Option<PathBuf>,
    app_image: Option<ImageRef>,
    properties: PropertiesArgs,
    inputs: RunInputs,
    keep: bool,
) -> u8 {
    // Usage and configuration first: nothing starts when one of them is wrong.
    let selection = match Selection::parse(&only) {
        Ok(selection) => selection,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    if let Err(message) = properties.check_selected(&selection) {
        print_error(&message);
        return EXIT_ENVIRONMENT;
    }
    let mut properties_options = match properties.options() {
        Ok(options) => options,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    if selection.properties
        && let Err(message) = properties_options.regressions.load_seeds()
    {
        print_error(&message);
        return EXIT_ENVIRONMENT;
    }
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    // Checked whatever the selection, because an invalid setting is an error even when no
    // check reads it.
    if let Err(message) = scenarios::fault_drill::schedule::check_env() {
        print_error(&message);
        return EXIT_ENVIRONMENT;
    }
    // The flag overrides HARNESS_APP_IMAGE.
    if let Some(image) = app_image {
        config.app_image = Some(image);
    }
    // A candidate image's failures are not regressions of the workspace's app, so its failing
    // seeds stay in the report and the repro bundle, out of the committed regressions file. The
    // replay line must name the image, or it would validate the workspace's app.
    if let Some(image) = &config.app_image {
        properties_options.regressions = properties_options.regressions.read_only();
        properties_options.replay_command = ReplayCommand::Validate {
            app_image: Some(image.to_string()),
        };
    }
    let run_id = RunId::generate();
    let report_dir = report_dir.unwrap_or_else(|| config.default_report_dir(&run_id));
    if let Err(error) = report::prepare_dir(&report_dir) {
        print_error(&error.to_string());
        return EXIT_ENVIRONMENT;
    }
    let schema_snapshot = selection.replay.then(|| snapshot_path(SCHEMA_SNAPSHOT));
    if let Err(message) = check_inputs(&config.migrations_dir(), schema_snapshot.as_deref()) {
        print_error(&message);
        return EXIT_ENVIRONMENT;
    }

    let started_at = Utc::now();
    let started = Instant::now();
    let mut run = Box::pin(run_checks(
        config,
        run_id.clone(),
        &selection,
        &properties_options,
        RunEndOptions {
            report_dir: &report_dir,
            inputs: &inputs,
            keep,
        },
    ));
    let outcome = tokio::select! {
        outcome = &mut run => Ok(outcome),
        signal = signals::interrupted() => Err(signal),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(signal) => {
            // Announce the cleanup before dropping the run, whose `Drop` removes what it holds.
            harness::progress::terminal::finish();
            eprintln!(
                "interrupted by {signal}: removing the containers, network and unfinished \
                 images of run {run_id}"
            );
            drop(run);
            return interrupted(signal, &run_id).await;
        }
    };

    // Any error before the checks ran means that the environment did not come up.
    let ChecksOutcome {
        checks,
        output_scanner,
        run_end,
        app_image: report_image,
    } = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            harness::progress::terminal::finish();
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };

    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        run_id: run_id.to_string(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        app_image: report_image,
        checks,
    };
    if let Some(scanner) = &output_scanner {
        scan_final_output(scanner, &mut report);
    }
    harness::progress::terminal::finish();
    println!("\nrun {run_id}\n{}", render_table(&report.checks));
    match report.write(&report_dir) {
        Ok(path) => println!(
            "report written to {} (with junit.xml and summary.md beside it)",
            path.display()
        ),
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    }
    repro::print_run_end(&run_end);
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
            print_error(&format!("serialising the report failed: {error}"));
            return;
        }
    };
    let junit = report.to_junit();
    let summary = report.to_summary();
    let findings = leaks_credentials::scan_final_output(
        scanner,
        &[
            ("the results table", &table),
            ("report.json", &json),
            ("junit.xml", &junit),
            ("summary.md", &summary),
        ],
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

/// Removes everything of the interrupted run and returns the exit status for `signal`.
///
/// By the time this runs, the cancelled run future has been dropped, and a started [`Run`]
/// removed its resources in `Drop`. An app image build keeps running until it ends, so that it
/// leaves a tagged image instead of an unfinished one. Then a sweep catches what a run still
/// starting had created. A second SIGINT or SIGTERM stops waiting.
pub(crate) async fn interrupted(signal: &'static str, run_id: &RunId) -> u8 {
    let status = signals::exit_status(signal);
    let cleanup = async {
        if app_image::builds_in_flight() > 0 {
            eprintln!(
                "waiting for the app image build to finish (at most {BUILD_WAIT_TIMEOUT:?}), so \
                 that it leaves no unfinished image"
            );
            app_image::wait_for_builds(BUILD_WAIT_TIMEOUT).await;
        }
        let docker = harness::docker::connect().await?;
        cleanup::remove_run(&docker, run_id, CLEANUP_TIMEOUT).await
    };
    let result = tokio::select! {
        result = cleanup => result,
        second = signals::interrupted() => {
            eprintln!("{second} again: stopped cleaning up. Run `harness gc` to remove what is left");
            return status;
        }
    };
    match result {
        Ok(removed) => {
            for entry in removed {
                tracing::info!(run_id = %run_id, "removed {entry}");
            }
            eprintln!("run {run_id} was interrupted and cleaned up");
        }
        Err(error) => print_error(&format!(
            "run {run_id} was interrupted, and cleanup failed: {error}"
        )),
    }
    status
}

/// Prepares the images, reaps dead runs, prunes old app images when HARNESS_KEEP_APP_IMAGES is
/// set, starts the run and runs the selected checks. An error means that the environment did not
/// come up, and no check ran. With `leaks.credentials` selected, it also returns a scanner for the
/// run's passwords, which the final output is scanned with after the run's containers are gone.
async fn run_checks(
    config: Config,
    run_id: RunId,
    selection: &Selection,
    properties: &crud_properties::Options,
    end: RunEndOptions<'_>,
) -> Result<ChecksOutcome, Error> {
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
    // Pruning only on request: on a shared Docker engine, another user's image built seconds
    // ago may be older than the newest few and not yet used by a container.
    if let Some(keep) = config.keep_app_images {
        let pruned = prune_app_images(&docker, keep).await?;
        for removed in &pruned.removed {
            tracing::info!("removed {removed} (older than the newest {keep} app images)");
        }
    }

    let report_image = match &app_image {
        Some(image) => Some(AppImage {
            reference: image.to_string(),
            id: images::image_id(&docker, image).await?,
        }),
        None => None,
    };
    let isolation_config = config.clone();
    let isolation_image = app_image.clone();
    let mut run = Run::start_with_config(
        config,
        RunOptions {
            run_id: Some(run_id),
            app_image,
            keep: end.keep,
            durability: selection.durability(),
            ..RunOptions::default()
        },
    )
    .await?;

    let mut checks = run_selected(&mut run, selection, properties).await;
    // access.isolation needs Postgres without a published port, so it gets a production-like
    // run of its own.
    if selection.isolation {
        checks.push(access_isolation::run_production_like(isolation_config, isolation_image).await);
    }
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
    let mut run_end = repro::end_run(run, &checks, end.report_dir, end.inputs, end.keep).await;
    if let Some(error) = run_end.shutdown_error.take() {
        // The verdicts stand, and the leftovers are reported and make the exit status 1.
        print_error(&error.to_string());
        checks.push(CheckResult::error(
            "harness.cleanup",
            Duration::ZERO,
            format!("removing the run's containers and network failed: {error}"),
        ));
    }
    Ok(ChecksOutcome {
        checks,
        output_scanner,
        run_end,
        app_image: report_image,
    })
}

/// Outcome of [`run_checks`] once the checks ran.
struct ChecksOutcome {
    checks: Vec<CheckResult>,
    /// Scanner for the run's passwords, with `leaks.credentials` selected.
    output_scanner: Option<Scanner>,
    run_end: RunEnd,
    /// The app image the checks ran, for the report.
    app_image: Option<AppImage>,
}

/// Settings of the end of a run: the folder of the repro bundles, what their replay commands
/// repeat, and whether a failed run is kept.
struct RunEndOptions<'a> {
    report_dir: &'a Path,
    inputs: &'a RunInputs,
    keep: bool,
}

/// Runs the selected checks on a started run. `migrations.replay` migrates the fresh database
/// itself. Without it, the harness applies the migrations before the app starts.
async fn run_selected(
    run: &mut Run,
    selection: &Selection,
    properties: &crud_properties::Options,
) -> Vec<CheckResult> {
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

    // migrations.stepwise and migrations.roundtrip migrate scratch databases of their own, and
    // migrations.lint reads files only. migrations.tamper compares the ledger of the migrated
    // run database.
    if selection.stepwise {
        checks.push(migrations_stepwise::run(run.deployment()).await);
    }
    if selection.tamper {
        let result = match &migrated {
            Ok(()) => migrations_tamper::run(run.deployment()).await,
            Err(reason) => CheckResult::error(
                migrations_tamper::NAME,
                Duration::ZERO,
                format!("the database is not migrated, so there is no ledger to compare: {reason}"),
            ),
        };
        checks.push(result);
    }
    if selection.lint {
        checks.push(migrations_lint::run(run.deployment()).await);
    }
    if selection.roundtrip {
        checks.push(migrations_roundtrip::run(run.deployment()).await);
    }
    let migration_error = migrated.as_ref().err().cloned();

    // crud.smoke, errors.sanitized and the leak checks share the run's app container.
    let started = Instant::now();
    let app_started = if selection.needs_run_app() {
        match migrated {
            Err(reason) => Err(format!(
                "the database is not migrated, so the app cannot start: {reason}"
            )),
            Ok(()) => run
                .start_app()
                .await
                .map_err(|error| format!("the app did not start: {error}")),
        }
    } else {
        Ok(())
    };
    let not_started = |name: &str| match &app_started {
        Ok(()) => None,
        Err(message) => Some(CheckResult::error(name, started.elapsed(), message.clone())),
    };

    if selection.crud {
        let result = match not_started(crud_smoke::NAME) {
            Some(result) => result,
            None => crud_smoke::run(run.deployment()).await,
        };
        checks.push(result);
    }

    // crud.properties builds its own template database from the migrations and runs against
    // a clone of it, with an app container of its own.
    if selection.properties {
        checks.push(crud_properties::run_on_clone(run, properties).await.result);
    }

    // The catalogs and the app role's own logins are enough: no app container is needed. It
    // runs before the rotation drills, which move the app to another role.
    if selection.least_privilege {
        let result = match &migration_error {
            None => access_least_privilege::run(run.deployment()).await,
            Some(reason) => CheckResult::error(
                access_least_privilege::NAME,
                Duration::ZERO,
                format!("the database is not migrated: {reason}"),
            ),
        };
        checks.push(result);
    }

    // After the other checks, so that their error responses are judged too. It restarts the
    // app and Postgres, so it runs after crud.properties, whose clones live on that Postgres.
    if selection.errors {
        let result = match not_started(errors_sanitized::NAME) {
            Some(result) => result,
            None => errors_sanitized::run(run).await,
        };
        checks.push(result);
    }
    // The rotation drills restart the app and change its credentials. They run before the leak
    // checks, which then scan their logs and know the retired passwords.
    if selection.update_env {
        let result = match not_started(rotation::update_env::NAME) {
            Some(result) => result,
            None => rotation::update_env::run(run).await,
        };
        checks.push(result);
    }
    if selection.stale_env {
        let result = match not_started(rotation::stale_env::NAME) {
            Some(result) => result,
            None => rotation::stale_env::run(run).await,
        };
        checks.push(result);
    }
    if selection.alternating_users {
        let result = match not_started(rotation::alternating_users::NAME) {
            Some(result) => result,
            None => rotation::alternating_users::run(run).await,
        };
        checks.push(result);
    }
    if selection.expiry {
        let result = match not_started(rotation::expiry::NAME) {
            Some(result) => result,
            None => rotation::expiry::run(run).await,
        };
        checks.push(result);
    }

    // Last, so that they scan every response and log of the run.
    if selection.password_hash {
        let result = match not_started(leaks_password_hash::NAME) {
            Some(result) => result,
            None => leaks_password_hash::run(run).await,
        };
        checks.push(result);
    }
    if selection.credentials {
        let result = match not_started(leaks_credentials::NAME) {
            Some(result) => result,
            None => leaks_credentials::run(run).await,
        };
        checks.push(result);
    }

    // Restarts and chaos last: see `scenarios::FAULT_CHECKS`. Each one judges its own error
    // responses with the errors.sanitized rules, since the leak checks above do not see them.
    for (name, selected) in scenarios::FAULT_CHECKS.iter().zip(selection.fault_checks) {
        if !selected {
            continue;
        }
        let result = match not_started(name) {
            Some(result) => result,
            None => scenarios::run_fault_check(run, name)
                .await
                .expect("every FAULT_CHECKS name has a check"),
        };
        checks.push(result);
    }
    checks
}
