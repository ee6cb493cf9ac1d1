//! The restart checks against the app, and the self-test with an app built with the fail point
//! that never opens a new database connection after the first outage.

mod common;

use common::{describe, faulty_app, in_run, step};
use harness::check::Status;
use harness::durability::Durability;
use harness::run::RunOptions;
use scenarios::{restarts_app_crash, restarts_app_graceful, restarts_postgres_fast};
use std::time::Duration;

/// Recovery bound for the self-test whose app never reconnects. The test waits out the whole
/// bound after healing, and any bound shows that the app did not recover.
const NEVER_RECOVERS_BOUND: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_app_graceful_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        restarts_app_graceful::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_app_crash_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        restarts_app_crash::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_postgres_fast_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        restarts_postgres_fast::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_postgres_fast_flags_never_reconnect() {
    let options = faulty_app(Durability::Durable, "database.never_reconnect=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        restarts_postgres_fast::run_with_bound(run, NEVER_RECOVERS_BOUND).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let readiness = result
        .findings
        .iter()
        .any(|finding| finding.starts_with("/readyz did not return 200 within"));
    assert!(
        readiness,
        "a finding should say that /readyz stayed not ready: {}",
        describe(&result)
    );
    let writes = result
        .findings
        .iter()
        .any(|finding| finding.starts_with("no write sent after healing"));
    assert!(
        writes,
        "a finding should say that no write succeeded after healing: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_app_crash_flags_commit_after_response() {
    let options = faulty_app(
        Durability::Durable,
        "video.create.commit_after_response=return",
    );
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        restarts_app_crash::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let lost = result.findings.iter().any(|finding| {
        finding.contains("acknowledged writes lost") && finding.contains("database read-back")
    });
    assert!(
        lost,
        "a finding should report acknowledged writes lost from the database: {}",
        describe(&result)
    );
}

/// With creates that take 2 s, each of the two load workers almost always has a write in
/// flight at SIGTERM. The check flags such a write that got no response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_app_graceful_flags_skipped_drain() {
    let options = faulty_app(
        Durability::Durable,
        "video.create.slow=return;shutdown.skip_drain=return",
    );
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        restarts_app_graceful::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let abandoned = result
        .findings
        .iter()
        .any(|finding| finding.contains("was in flight at SIGTERM"));
    assert!(
        abandoned,
        "a finding should name a write abandoned at SIGTERM: {}",
        describe(&result)
    );
}

/// With creates that take 2 s, writes are in flight at SIGTERM, and a correct drain finishes
/// them, so the check passes and its message counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_app_graceful_finishes_slow_writes() {
    let options = faulty_app(Durability::Durable, "video.create.slow=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        restarts_app_graceful::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
    assert!(
        result.message.contains(" writes in flight at SIGTERM"),
        "writes should be in flight at SIGTERM: {}",
        describe(&result)
    );
}
