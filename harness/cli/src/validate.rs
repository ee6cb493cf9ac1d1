//! `harness validate`: one run with the selected checks, a results table and report.json.

use std::path::{Path, PathBuf};
use std::sync::Arc;
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
use harness::run::{BUILD_WAIT_TIMEOUT, MAIN_LANE, Run};
use harness::scan::{Scanner, credential_formats};
use harness::signals;
use scenarios::crud_properties::{self, Regressions, ReplayCommand};
use scenarios::lane_evidence::LaneEvidence;
use scenarios::snapshot::{SCHEMA_SNAPSHOT, snapshot_path};
use scenarios::{
    access_least_privilege, crud_smoke, errors_sanitized, leaks_credentials, leaks_password_hash,
    migrations_lint, migrations_replay, migrations_roundtrip, migrations_stepwise,
    migrations_tamper,
};
use testcontainers::bollard::Docker;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::lanes::{
    self, CHAOS_LANE, CRASHES_LANE, EVIDENCE_TIMEOUT, EvidenceReceiver, EvidenceSender,
    ISOLATION_LANE, LaneContext, LaneOutcome, ROTATION_LANE,
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
            ReplayCommand::Validate {
                app_image: None,
                config_file: None,
            },
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
    // seeds stay in the report and the repro bundle, out of the committed regressions file.
    if config.app_image.is_some() {
        properties_options.regressions = properties_options.regressions.read_only();
    }
    // The replay line must name the image, or it would validate the workspace's app, and the
    // configuration file, whose settings (the argon2 cost, say) the failing run had.
    properties_options.replay_command = ReplayCommand::Validate {
        app_image: config.app_image.as_ref().map(ToString::to_string),
        config_file: inputs
            .config_file
            .as_ref()
            .map(|file| file.display().to_string()),
    };
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
                 images of run {run_id}. Interrupt again to exit at once; `harness gc` then \
                 removes what is left"
            );
            drop(run);
            return interrupted(signal, &run_id).await;
        }
    };

    // Any error before the checks ran means that the environment did not come up.
    let ChecksOutcome {
        checks,
        output_scanner,
        run_ends,
        lane_times,
        app_image: report_image,
    } = match outcome {
        Ok(outcome) => outcome,
        Err(message) => {
            harness::progress::terminal::finish();
            print_error(&message);
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
    println!("{}", render_lane_times(&lane_times));
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
    for run_end in &run_ends {
        repro::print_run_end(run_end);
    }
    tracing::info!(run_id = %run_id, duration_ms = report.duration_ms, "validate finished");

    if report.all_passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// Renders the wall time of each lane, such as `lanes: main 31.2 s, rotation 20.4 s`.
fn render_lane_times(lane_times: &[(&str, Duration)]) -> String {
    let times: Vec<String> = lane_times
        .iter()
        .map(|(lane, elapsed)| format!("{lane} {:.1} s", elapsed.as_secs_f64()))
        .collect();
    format!("lanes: {}", times.join(", "))
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
/// starting had created. A second SIGINT or SIGTERM ends the process at once (see
/// [`signals::interrupted`]).
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
    match cleanup.await {
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
/// set, and runs the selected checks in concurrent lanes (see [`crate::lanes`]). An error means
/// that the environment did not come up and no check ran, because an image is missing or no
/// lane started. With `leaks.credentials` selected, it also returns a scanner for the role passwords
/// of every lane, which the final output is scanned with after the containers are gone.
async fn run_checks(
    config: Config,
    run_id: RunId,
    selection: &Selection,
    properties: &crud_properties::Options,
    end: RunEndOptions<'_>,
) -> Result<ChecksOutcome, String> {
    let docker = harness::docker::connect()
        .await
        .map_err(|error| error.to_string())?;
    let prepared = prepare_images(&docker, &config, &run_id, selection).await;
    let (app_image, report_image) = prepared.map_err(|error| error.to_string())?;

    let context = Arc::new(LaneContext {
        config,
        run_id: run_id.clone(),
        app_image,
        report_dir: end.report_dir.to_owned(),
        inputs: end.inputs.clone(),
        keep: end.keep,
    });
    let outcomes = run_lanes(&context, selection, properties).await;

    // Every lane that was needed failed to start: the environment did not come up.
    if outcomes.iter().all(|outcome| outcome.run_end.is_none()) {
        let errors: Vec<String> = outcomes
            .iter()
            .filter_map(|outcome| outcome.start_error.clone())
            .collect();
        sweep_run(&docker, &run_id).await.ok();
        return Err(errors.join("\n"));
    }

    let mut checks = Vec::new();
    let mut canaries = Vec::new();
    let mut run_ends = Vec::new();
    let mut cleanup_errors = Vec::new();
    let lane_times = outcomes
        .iter()
        .map(|outcome| (outcome.lane, outcome.elapsed))
        .collect();
    for mut outcome in outcomes {
        checks.append(&mut outcome.checks);
        canaries.append(&mut outcome.canaries);
        if let Some(mut run_end) = outcome.run_end {
            if let Some(error) = run_end.shutdown_error.take() {
                cleanup_errors.push(format!("lane {}: {error}", outcome.lane));
            }
            run_ends.push(run_end);
        }
    }
    // The lanes removed only what carries their lane label. The container that pins the app
    // image and unfinished images carry the run id alone, so they are removed here, unless a
    // lane was kept for inspection.
    if run_ends.iter().all(|run_end| run_end.kept.is_none())
        && let Err(error) = sweep_run(&docker, &run_id).await
    {
        cleanup_errors.push(error.to_string());
    }
    checks.sort_by_key(|check| canonical_position(&check.name));
    if !cleanup_errors.is_empty() {
        // The verdicts stand, and the leftovers are reported and make the exit status 1.
        let message = cleanup_errors.join("; ");
        print_error(&message);
        checks.push(CheckResult::error(
            "harness.cleanup",
            Duration::ZERO,
            format!("removing the run's containers and networks failed: {message}"),
        ));
    }

    let output_scanner = if selection.credentials {
        match Scanner::new(canaries, credential_formats()) {
            Ok(scanner) => Some(scanner),
            Err(error) => {
                print_error(&format!("building the scanner failed: {error}"));
                None
            }
        }
    } else {
        None
    };
    Ok(ChecksOutcome {
        checks,
        output_scanner,
        run_ends,
        lane_times,
        app_image: report_image,
    })
}

/// Checks the images, builds the app image if a selected check needs it, reaps dead runs and
/// prunes old app images. Returns the app image and its report entry.
async fn prepare_images(
    docker: &Docker,
    config: &Config,
    run_id: &RunId,
    selection: &Selection,
) -> Result<(Option<ImageRef>, Option<AppImage>), Error> {
    // Every image first, so that a missing one stops the run before any container starts.
    images::ensure_base_image(docker, config, BaseImage::Postgres).await?;
    let app_image = if selection.needs_app() {
        // Containers inherit their image's labels, and an app image built by a lane of an
        // earlier run carries that lane's label. The empty lane label overrides it on the
        // container that pins the image, which belongs to the whole run and to no lane.
        let mut labels = labels::run_labels(run_id, &Owner::current());
        labels.insert(labels::LANE.to_owned(), String::new());
        Some(app_image::ensure_app_image(docker, config, &[], &labels).await?)
    } else {
        None
    };

    let reaped = collect_garbage(docker, GcMode::DeadRuns).await?;
    for removed in &reaped.removed {
        tracing::info!("reaped {removed} (its process has exited)");
    }
    // Pruning only on request: on a shared Docker engine, another user's image built seconds
    // ago may be older than the newest few and not yet used by a container.
    if let Some(keep) = config.keep_app_images {
        let pruned = prune_app_images(docker, keep).await?;
        for removed in &pruned.removed {
            tracing::info!("removed {removed} (older than the newest {keep} app images)");
        }
    }

    let report_image = match &app_image {
        Some(image) => Some(AppImage {
            reference: image.to_string(),
            id: images::image_id(docker, image).await?,
        }),
        None => None,
    };
    Ok((app_image, report_image))
}

/// Removes whatever carries the run id, logging each removal.
async fn sweep_run(docker: &Docker, run_id: &RunId) -> Result<(), Error> {
    let removed = cleanup::remove_run(docker, run_id, CLEANUP_TIMEOUT).await?;
    for entry in removed {
        tracing::info!(run_id = %run_id, "removed {entry}");
    }
    Ok(())
}

/// Returns the position of check `name` in [`scenarios::CHECKS`], or the end for a name outside
/// it (`harness.cleanup`).
fn canonical_position(name: &str) -> usize {
    scenarios::CHECKS
        .iter()
        .position(|check| *check == name)
        .unwrap_or(scenarios::CHECKS.len())
}

/// Returns the lanes, other than `main`, that hand their evidence to the leak checks: with a
/// leak check selected, every other lane with a selected check, because each runs app
/// containers.
fn handover_lanes(selection: &Selection) -> Vec<&'static str> {
    if !(selection.password_hash || selection.credentials) {
        return Vec::new();
    }
    lanes::LANES
        .iter()
        .filter(|lane| lane.name != MAIN_LANE)
        .filter(|lane| !selection.selected_of(lane.checks).is_empty())
        .map(|lane| lane.name)
        .collect()
}

/// Starts a task for every lane with a selected check and waits for all of them. A lane that
/// panicked turns its checks into errors, and the other lanes' results stand. Dropping this
/// future (Ctrl-C) aborts the tasks, which drops their runs and so removes their containers.
async fn run_lanes(
    context: &Arc<LaneContext>,
    selection: &Selection,
    properties: &crud_properties::Options,
) -> Vec<LaneOutcome> {
    let mut tasks = LaneTasks::default();

    // One handover per lane whose evidence the leak checks in main wait for, in LANES order.
    let mut receivers = Vec::new();
    let mut senders: Vec<(&'static str, EvidenceSender)> = Vec::new();
    for lane in handover_lanes(selection) {
        let (sender, receiver) = oneshot::channel();
        senders.push((lane, sender));
        receivers.push((lane, receiver));
    }
    let mut sender_of = |lane: &str| {
        let position = senders.iter().position(|(name, _)| *name == lane)?;
        Some(senders.remove(position).1)
    };

    let rotation_checks = selection.selected_of(lanes::lane(ROTATION_LANE).checks);
    if !rotation_checks.is_empty() {
        let lane_context = Arc::clone(context);
        let selected = rotation_checks.clone();
        let evidence = sender_of(ROTATION_LANE);
        tasks.spawn(ROTATION_LANE, rotation_checks, async move {
            lanes::run_rotation(lane_context, selected, evidence).await
        });
    }
    for name in [CRASHES_LANE, CHAOS_LANE] {
        let lane = lanes::lane(name);
        let selected = selection.selected_of(lane.checks);
        if selected.is_empty() {
            continue;
        }
        let lane_context = Arc::clone(context);
        let checks = selected.clone();
        let evidence = sender_of(name);
        tasks.spawn(name, selected, async move {
            lanes::run_faults(lane_context, lane, checks, evidence).await
        });
    }
    let isolation_evidence = sender_of(ISOLATION_LANE);
    // The main and isolation lanes run in this task, because their futures are not `Send`:
    // testcontainers 0.28's exec result is not `Sync`, and the compiler cannot prove a sqlx
    // `Acquire` bound `Send` for every lifetime. Both mostly wait on Docker, Postgres and the
    // app, so they share the task without delaying each other much.
    let main = async {
        if selection
            .selected_of(lanes::lane(MAIN_LANE).checks)
            .is_empty()
        {
            return None;
        }
        let lane_context = Arc::clone(context);
        Some(run_main(lane_context, *selection, properties, receivers).await)
    };
    let isolation = async {
        match selection.isolation {
            true => Some(lanes::run_isolation(Arc::clone(context), isolation_evidence).await),
            false => None,
        }
    };
    let (main, mut spawned, isolation) = tokio::join!(main, tasks.join(), isolation);
    let mut outcomes: Vec<LaneOutcome> = main.into_iter().collect();
    outcomes.append(&mut spawned);
    outcomes.extend(isolation);
    outcomes
}

/// The spawned lane tasks, aborted when dropped.
#[derive(Default)]
struct LaneTasks {
    tasks: Vec<(&'static str, Vec<&'static str>, JoinHandle<LaneOutcome>)>,
}

impl LaneTasks {
    fn spawn(
        &mut self,
        lane: &'static str,
        checks: Vec<&'static str>,
        task: impl Future<Output = LaneOutcome> + Send + 'static,
    ) {
        self.tasks.push((lane, checks, tokio::spawn(task)));
    }

    /// Waits for every task, in the order they were spawned.
    async fn join(mut self) -> Vec<LaneOutcome> {
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for (lane, checks, task) in &mut self.tasks {
            let outcome = match task.await {
                Ok(outcome) => outcome,
                Err(error) => {
                    let message = format!("lane {lane} ended without a result: {error}");
                    print_error(&message);
                    LaneOutcome::failed(lane, checks, &message, started)
                }
            };
            outcomes.push(outcome);
        }
        self.tasks.clear();
        outcomes
    }
}

impl Drop for LaneTasks {
    fn drop(&mut self) {
        for (_, _, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Outcome of [`run_checks`] once the checks ran.
struct ChecksOutcome {
    /// Results in the order of [`scenarios::CHECKS`], then `harness.cleanup` if it failed.
    checks: Vec<CheckResult>,
    /// Scanner for the role passwords of every lane, with `leaks.credentials` selected.
    output_scanner: Option<Scanner>,
    /// End of each lane that ran, in [`lanes::LANES`] order.
    run_ends: Vec<RunEnd>,
    /// Wall time of each lane, from its start to the end of its shutdown.
    lane_times: Vec<(&'static str, Duration)>,
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

/// Runs the selected checks of the main lane on test-only Postgres. The leak checks wait for
/// `evidence`, the logs, responses, passwords and stored rows of the other lanes.
async fn run_main(
    context: Arc<LaneContext>,
    selection: Selection,
    properties: &crud_properties::Options,
    evidence: Vec<(&'static str, EvidenceReceiver)>,
) -> LaneOutcome {
    let started = Instant::now();
    let lane = lanes::lane(MAIN_LANE);
    let mut run = match lanes::start_run(&context, lane).await {
        Ok(run) => run,
        Err(message) => {
            let selected = selection.selected_of(lane.checks);
            return LaneOutcome::failed(lane.name, &selected, &message, started);
        }
    };
    let checks = run_selected(&mut run, &selection, properties, evidence).await;
    lanes::finish(&context, lane.name, run, checks, None, started).await
}

/// Runs the selected checks of the main lane on its started run. `migrations.replay` migrates
/// the fresh database itself. Without it, the harness applies the migrations before the app
/// starts.
async fn run_selected(
    run: &mut Run,
    selection: &Selection,
    properties: &crud_properties::Options,
    evidence: Vec<(&'static str, EvidenceReceiver)>,
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

    // The catalogs and the app role's own logins are enough: no app container is needed.
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

    // After the other checks of the lane, so that their error responses are judged too. It
    // restarts the app and Postgres, so it runs after crud.properties, whose clones live on
    // that Postgres.
    if selection.errors {
        let result = match not_started(errors_sanitized::NAME) {
            Some(result) => result,
            None => errors_sanitized::run(run).await,
        };
        checks.push(result);
    }
    // Last, so that they scan every response and log of the lane, and, once the other lanes
    // hand them over, their logs, responses, passwords and stored rows. Without the app, the
    // leak checks are errors already, so they do not wait.
    let leak_checks_selected = selection.password_hash || selection.credentials;
    let (lanes_evidence, unscanned) = if leak_checks_selected && app_started.is_ok() {
        receive_evidence(evidence).await
    } else {
        (Vec::new(), Vec::new())
    };
    if selection.password_hash {
        let result = match not_started(leaks_password_hash::NAME) {
            Some(result) => result,
            None => leaks_password_hash::run_with_lanes(run, &lanes_evidence).await,
        };
        checks.push(mark_unscanned(result, &unscanned));
    }
    if selection.credentials {
        let result = match not_started(leaks_credentials::NAME) {
            Some(result) => result,
            None => leaks_credentials::run_with_lanes(run, &lanes_evidence).await,
        };
        checks.push(mark_unscanned(result, &unscanned));
    }
    checks
}

/// A lane whose evidence the leak checks did not receive.
struct UnscannedLane {
    /// Lane name.
    lane: &'static str,
    /// Reason its evidence is missing.
    reason: String,
}

/// Waits for the evidence of every lane in `receivers`, all within one [`EVIDENCE_TIMEOUT`].
/// Returns the evidence received and the lanes whose evidence is missing, with the reason.
async fn receive_evidence(
    receivers: Vec<(&'static str, EvidenceReceiver)>,
) -> (Vec<LaneEvidence>, Vec<UnscannedLane>) {
    let deadline = tokio::time::Instant::now() + EVIDENCE_TIMEOUT;
    let mut received = Vec::new();
    let mut unscanned = Vec::new();
    for (lane, receiver) in receivers {
        let reason = match tokio::time::timeout_at(deadline, receiver).await {
            Ok(Ok(Ok(evidence))) => {
                received.push(evidence);
                continue;
            }
            Ok(Ok(Err(reason))) => reason,
            Ok(Err(_)) => "the lane ended without handing over its logs".to_owned(),
            Err(_) => format!(
                "the lane did not hand over its logs within {EVIDENCE_TIMEOUT:?} of the leak \
                 checks' start"
            ),
        };
        tracing::error!(lane, %reason, "the leak checks did not receive the lane's evidence");
        unscanned.push(UnscannedLane { lane, reason });
    }
    (received, unscanned)
}

/// Turns a leak check's pass into an error when a lane it was meant to scan was not scanned,
/// and adds the lanes and reasons to the message of any other result.
fn mark_unscanned(mut result: CheckResult, unscanned: &[UnscannedLane]) -> CheckResult {
    if unscanned.is_empty() {
        return result;
    }
    let reasons: Vec<String> = unscanned
        .iter()
        .map(|lane| format!("lane {} was not scanned: {}", lane.lane, lane.reason))
        .collect();
    let reasons = reasons.join("; ");
    if result.status == Status::Pass {
        result.status = Status::Error;
        result.message = format!("{reasons} (what was scanned: {})", result.message);
    } else {
        result.message = format!("{} ({reasons})", result.message);
    }
    result
}

#[cfg(test)]
mod tests {
    use harness::check::Status;

    use super::*;

    fn passed(lane: &'static str, check: &str) -> LaneOutcome {
        let started = Instant::now();
        let mut outcome = LaneOutcome::failed(lane, &[check], "unused", started);
        outcome.checks = vec![CheckResult::from_findings(
            check,
            Duration::ZERO,
            "passed",
            Vec::new(),
        )];
        outcome.start_error = None;
        outcome
    }

    #[tokio::test]
    async fn panicked_lane_keeps_others_results() {
        let mut tasks = LaneTasks::default();
        tasks.spawn(CRASHES_LANE, vec!["restarts.app_crash"], async {
            panic!("a lane panicked on purpose")
        });
        tasks.spawn(CHAOS_LANE, vec!["chaos.pause"], async {
            passed(CHAOS_LANE, "chaos.pause")
        });

        let outcomes = tasks.join().await;

        let lanes: Vec<&str> = outcomes.iter().map(|outcome| outcome.lane).collect();
        assert_eq!(lanes, [CRASHES_LANE, CHAOS_LANE]);
        let crashed = &outcomes[0].checks;
        assert_eq!(crashed.len(), 1, "{crashed:?}");
        assert_eq!(crashed[0].name, "restarts.app_crash");
        assert_eq!(crashed[0].status, Status::Error);
        assert!(
            crashed[0]
                .message
                .contains("lane crashes ended without a result"),
            "{}",
            crashed[0].message
        );
        let chaos = &outcomes[1].checks;
        assert_eq!(chaos.len(), 1, "{chaos:?}");
        assert_eq!(chaos[0].status, Status::Pass, "{chaos:?}");
    }

    fn selection(only: &[&str]) -> Selection {
        let only: Vec<String> = only.iter().map(|name| (*name).to_owned()).collect();
        Selection::parse(&only).expect("the check names should be valid")
    }

    #[test]
    fn handover_lanes_cover_app_lanes() {
        let cases: [(&[&str], &[&str]); 4] = [
            (
                &[
                    "leaks.credentials",
                    "restarts.app_crash",
                    "access.isolation",
                ],
                &[CRASHES_LANE, ISOLATION_LANE],
            ),
            (
                &["leaks.password_hash", "rotation.expiry", "chaos.pause"],
                &[ROTATION_LANE, CHAOS_LANE],
            ),
            (&["restarts.app_crash", "chaos.pause", "crud.smoke"], &[]),
            (&["leaks.credentials", "crud.smoke"], &[]),
        ];
        for (only, expected) in cases {
            assert_eq!(
                handover_lanes(&selection(only)),
                expected,
                "lanes that hand over evidence for --only {only:?}"
            );
        }
    }

    fn unscanned(lane: &'static str, reason: &str) -> UnscannedLane {
        UnscannedLane {
            lane,
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn unscanned_lane_turns_pass_into_error() {
        let passed =
            CheckResult::from_findings("leaks.credentials", Duration::ZERO, "clean", vec![]);

        let result = mark_unscanned(passed, &[unscanned(CRASHES_LANE, "Postgres was frozen")]);

        assert_eq!(result.status, Status::Error);
        assert!(
            result
                .message
                .starts_with("lane crashes was not scanned: Postgres was frozen"),
            "{}",
            result.message
        );
    }

    #[test]
    fn unscanned_lane_keeps_failure() {
        let findings =
            vec!["container lv-app-x stdout, line 1: password of role lv_app".to_owned()];
        let failed =
            CheckResult::from_findings("leaks.credentials", Duration::ZERO, "clean", findings);

        let result = mark_unscanned(failed, &[unscanned(CHAOS_LANE, "timed out")]);

        assert_eq!(result.status, Status::Fail);
        assert!(
            result
                .message
                .ends_with("(lane chaos was not scanned: timed out)"),
            "{}",
            result.message
        );
    }

    #[test]
    fn scanned_lanes_leave_result_alone() {
        let passed =
            CheckResult::from_findings("leaks.password_hash", Duration::ZERO, "clean", vec![]);

        let result = mark_unscanned(passed, &[]);

        assert_eq!(result.status, Status::Pass);
        assert_eq!(result.message, "clean");
    }

    #[tokio::test]
    async fn dropped_handover_is_unscanned() {
        let (sender, receiver) = oneshot::channel();
        drop(sender);

        let (received, unscanned) = receive_evidence(vec![(CHAOS_LANE, receiver)]).await;

        assert!(received.is_empty());
        assert_eq!(unscanned.len(), 1);
        assert_eq!(unscanned[0].lane, CHAOS_LANE);
        assert!(
            unscanned[0].reason.contains("ended without handing over"),
            "{}",
            unscanned[0].reason
        );
    }

    #[tokio::test]
    async fn lane_start_failure_is_unscanned() {
        let (sender, receiver) = oneshot::channel();
        sender
            .send(Err("lane crashes did not start: no network".to_owned()))
            .expect("the receiver should be open");

        let (received, unscanned) = receive_evidence(vec![(CRASHES_LANE, receiver)]).await;

        assert!(received.is_empty());
        assert_eq!(unscanned.len(), 1);
        assert_eq!(unscanned[0].lane, CRASHES_LANE);
        assert_eq!(
            unscanned[0].reason,
            "lane crashes did not start: no network"
        );
    }

    #[test]
    fn canonical_position_follows_checks() {
        let mut names = vec![
            "harness.cleanup",
            "access.isolation",
            "chaos.pause",
            "leaks.credentials",
            "migrations.replay",
        ];

        names.sort_by_key(|name| canonical_position(name));

        assert_eq!(
            names,
            [
                "migrations.replay",
                "leaks.credentials",
                "chaos.pause",
                "access.isolation",
                "harness.cleanup",
            ]
        );
    }

    #[test]
    fn lane_times_render_in_seconds() {
        let times = [
            (MAIN_LANE, Duration::from_millis(31_240)),
            (ROTATION_LANE, Duration::from_millis(20_400)),
        ];

        assert_eq!(
            render_lane_times(&times),
            "lanes: main 31.2 s, rotation 20.4 s"
        );
    }
}
