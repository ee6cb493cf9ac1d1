//! `rotation.expiry` under load, and its self-test: a drill that never sets VALID UNTIL.

mod common;

use common::{describe, faulty_app, in_run, step};
use harness::check::Status;
use harness::durability::Durability;
use harness::run::RunOptions;
use scenarios::rotation::Deadlines;
use scenarios::rotation::expiry::{self, Expiry};
use std::time::Duration;

/// Deadlines for the self-test, whose role never expires. The expiry deadline only has to pass
/// the 2 s the drill would give VALID UNTIL. The role can still log in, so `/readyz` never
/// returns 503 and the self-test waits out the ready deadline once. The app's return to ready
/// after its sessions end needs only a new login, which 5 s also covers.
const SELF_TEST_DEADLINES: Deadlines = Deadlines {
    ready: Duration::from_secs(5),
    expiry: Duration::from_secs(4),
};

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
        expiry::run_with(run, Expiry::NotSet, SELF_TEST_DEADLINES).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("role lv_app could still log in 4s after its VALID UNTIL was set"),
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

/// An app whose pool never logs in again after its sessions end fails the check with a
/// finding, not an error: recovering without a restart is the rule under test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_flags_app_that_never_reconnects() {
    let options = faulty_app(Durability::Durable, "database.never_reconnect=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        expiry::run_with(run, Expiry::Passes, SELF_TEST_DEADLINES).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.findings.iter().any(|finding| finding
            .starts_with("with the expiry removed, the app")
            && finding.ends_with("its pool must log in again without a restart")),
        "a finding should say that the app did not recover: {}",
        describe(&result)
    );
}
