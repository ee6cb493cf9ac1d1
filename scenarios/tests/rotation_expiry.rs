//! `rotation.expiry` under load, and its self-test: a drill that never sets VALID UNTIL.

mod common;

use common::{describe, in_run, step};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::rotation::expiry::{self, Expiry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        expiry::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_flags_missing_expiry() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        expiry::run_with(run, Expiry::NotSet).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("role lv_app could still log in 15s after its VALID UNTIL was set"),
        "the message should say that the role did not expire: {}",
        describe(&result)
    );
    assert!(
        result.findings.iter().any(|finding| finding
            == "a new login as lv_app after its VALID UNTIL passed still succeeded"),
        "a finding should say that a new login succeeded: {}",
        describe(&result)
    );
}
