//! `rotation.stale_env` under load, and its self-test: an app built with the fail point that
//! logs its connection string, password included.

mod common;

use common::{describe, faulty_app, in_run, step};
use harness::check::Status;
use harness::durability::Durability;
use harness::run::RunOptions;
use scenarios::rotation::stale_env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_env_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        stale_env::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_env_flags_logged_url() {
    let options = faulty_app(Durability::Durable, "startup.log_connection_string=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        stale_env::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .findings
            .iter()
            .any(|finding| finding.starts_with("container lv-app-")
                && finding.contains("password of role lv_app")),
        "a finding should name an app container log with the app role's password: {}",
        describe(&result)
    );
}
