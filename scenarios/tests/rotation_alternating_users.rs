//! `rotation.alternating_users` under load, and its self-test: a restart that removes the old
//! container before the new one starts.

mod common;

use common::{describe, in_run, step};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::rotation::alternating_users::{self, Order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_users_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        alternating_users::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_users_flags_stop_first() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        alternating_users::run_with(run, Order::StopFirst).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.findings.iter().any(|finding| finding
            .starts_with("the restart from lv_app to lv_app_alt failed ")
            && finding.contains("requests in a window of")),
        "a finding should count the failed requests: {}",
        describe(&result)
    );
}
