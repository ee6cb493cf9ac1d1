//! `rotation.update_env` under load, with a new container and with an env file rewritten in
//! place, and its self-tests: a restart of the same container, which keeps the old password in
//! its environment, a plain password that reaches the server log, and an app built with the fail
//! point that caches its credentials.

mod common;

use common::{describe, faulty_app, in_run, step};
use harness::check::Status;
use harness::durability::Durability;
use harness::run::RunOptions;
use scenarios::rotation::update_env::{self, Procedure};

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
        update_env::run_with(run, Procedure::SameContainer).await
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
        update_env::run_with(run, Procedure::PlainPasswordLogged).await
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
        update_env::run_with(run, Procedure::EnvFileInPlace).await
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
        update_env::run_with(run, Procedure::EnvFileInPlace).await
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
}
