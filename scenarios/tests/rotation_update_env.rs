//! `rotation.update_env` under load, with a new container and with an env file rewritten in
//! place, and its self-tests: a restart of the same container, which keeps the old password in
//! its environment, a plain password that reaches the server log, and an app built with the fail
//! point that caches its credentials.

mod common;

use common::{describe, faulty_app, in_run, step, test_only};
use harness::check::Status;
use harness::durability::Durability;
use harness::run::RunOptions;
use scenarios::rotation::update_env::{self, Procedure};
use scenarios::rotation::{self, Deadlines};
use std::time::Duration;

/// Deadlines for the self-tests whose restarted app can never log in. The restart has to boot
/// the app and let `/readyz` return 503 database_unreachable within the ready deadline, so that
/// the finding shows the reason; 10 s leaves room for a slow boot on a loaded machine.
const NEVER_READY_DEADLINES: Deadlines = Deadlines {
    ready: Duration::from_secs(10),
    ..Deadlines::DEFAULT
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_env_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        update_env::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_env_flags_stale_restart() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        update_env::run_with(run, Procedure::SameContainer, NEVER_READY_DEADLINES).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("after the rotation, the restarted app was not ready within"),
        "the message should say that the app did not become ready: {}",
        describe(&result)
    );
    assert!(
        result.message.contains("database_unreachable"),
        "the message should show the readiness reason: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_env_flags_logged_password() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        update_env::run_with(run, Procedure::PlainPasswordLogged, Deadlines::default()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .findings
            .iter()
            .any(|finding| finding.starts_with("container lv-pg-")
                && finding.contains(": password of role lv_app")),
        "a finding should name the Postgres log and the app role's password: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_env_env_file_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        update_env::run_with(run, Procedure::EnvFileInPlace, Deadlines::default()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_env_flags_cached_credentials() {
    let options = faulty_app(Durability::Durable, "config.cached_credentials=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        update_env::run_with(run, Procedure::EnvFileInPlace, NEVER_READY_DEADLINES).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("after the rotation, the restarted app was not ready within"),
        "the message should say that the app did not become ready: {}",
        describe(&result)
    );
    assert!(
        result.message.contains("database_unreachable"),
        "the message should show the readiness reason: {}",
        describe(&result)
    );
}

/// A stopped app container cannot become ready, so the wait for `/readyz` ends with how it
/// stopped instead of waiting out the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_ready_stops_at_exited_app() {
    let waited = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        let app = run
            .app()
            .expect("the app should be started")
            .name()
            .to_owned();
        step(
            harness::fault::send_signal(run.docker(), &app, "SIGKILL").await,
            "killing the app",
        );
        step(
            harness::fault::wait_until_exited(run.docker(), &app, Duration::from_secs(30)).await,
            "waiting for the app to exit",
        );
        rotation::wait_until_ready(run, Deadlines::DEFAULT.ready).await
    })
    .await;

    let reason = waited.expect_err("a killed app should not become ready");
    assert!(
        reason.starts_with("container lv-app-"),
        "the reason should name the app container: {reason}"
    );
    assert!(
        reason.contains("exited with code 137"),
        "the reason should say how the container stopped: {reason}"
    );
    assert!(
        !reason.contains("was not ready within"),
        "the wait should end at the exit, not at the deadline: {reason}"
    );
}
