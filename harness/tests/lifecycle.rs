//! Lifecycle of a run against the real Docker engine: every way a run ends leaves no container
//! or network with its run id, and the reaper removes a dead owner's leftovers.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use harness::cleanup::{Labelled, ResourceKind, list_labelled};
use harness::gc::{GcMode, collect_garbage};
use harness::labels::{self, RunId};
use harness::owner::{self, Owner};
use harness::run::{Run, RunOptions, with_run};
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::NetworkCreateRequest;

async fn docker() -> Docker {
    harness::docker::connect()
        .await
        .expect("Docker should be reachable for lifecycle tests")
}

async fn resources_of(docker: &Docker, run_id: &RunId) -> Vec<Labelled> {
    list_labelled(docker, labels::run_filter(run_id))
        .await
        .expect("listing labelled resources should work")
}

fn names(resources: &[Labelled]) -> Vec<String> {
    resources.iter().map(|r| r.name.clone()).collect()
}

fn options_with_id(run_id: &RunId) -> RunOptions {
    RunOptions {
        run_id: Some(run_id.clone()),
        ..RunOptions::default()
    }
}

/// Asserts that a started run has its Postgres container and network, so that the "nothing
/// left" assertions after it cannot pass on a run that never created anything.
fn assert_started_resources(resources: &[Labelled], run_id: &RunId) {
    let has_container = resources
        .iter()
        .any(|r| r.kind == ResourceKind::Container && r.name == format!("lv-pg-{run_id}"));
    let has_network = resources
        .iter()
        .any(|r| r.kind == ResourceKind::Network && r.name == format!("lv-net-{run_id}"));
    assert!(
        has_container,
        "Postgres container of {run_id} missing: {:?}",
        names(resources)
    );
    assert!(
        has_network,
        "network of {run_id} missing: {:?}",
        names(resources)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_nothing() {
    harness::logging::init(true);
    let docker = docker().await;
    let run_id = RunId::generate();

    let run = Run::start(options_with_id(&run_id))
        .await
        .expect("run should start");
    assert_started_resources(&resources_of(&docker, &run_id).await, &run_id);
    run.shutdown().await.expect("shutdown should succeed");

    let left = resources_of(&docker, &run_id).await;
    assert!(
        left.is_empty(),
        "resources left after shutdown: {:?}",
        names(&left)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_helper_leaves_nothing() {
    harness::logging::init(true);
    let docker = docker().await;
    let run_id = RunId::generate();
    let seen_during_run = std::sync::Mutex::new(Vec::new());

    let outcome = AssertUnwindSafe(with_run(options_with_id(&run_id), async |run| {
        let present = resources_of(run.docker(), run.id()).await;
        *seen_during_run.lock().expect("lock should not be poisoned") = present;
        panic!("deliberate panic inside the test body");
    }))
    .catch_unwind()
    .await;

    assert!(
        outcome.is_err(),
        "the body's panic should propagate out of with_run"
    );
    let seen = seen_during_run
        .lock()
        .expect("lock should not be poisoned")
        .clone();
    assert_started_resources(&seen, &run_id);
    let left = resources_of(&docker, &run_id).await;
    assert!(
        left.is_empty(),
        "resources left after a panic: {:?}",
        names(&left)
    );
}

// A current-thread runtime is the case where cleanup in `Drop` could block on its own runtime.
#[tokio::test]
async fn drop_without_shutdown_leaves_nothing() {
    harness::logging::init(true);
    let docker = docker().await;
    let run_id = RunId::generate();

    let run = Run::start(options_with_id(&run_id))
        .await
        .expect("run should start");
    assert_started_resources(&resources_of(&docker, &run_id).await, &run_id);
    drop(run);

    let left = resources_of(&docker, &run_id).await;
    assert!(
        left.is_empty(),
        "resources left after drop: {:?}",
        names(&left)
    );
}

async fn create_labelled_network(docker: &Docker, run_id: &RunId, owner: &Owner) -> String {
    let name = format!("lv-net-{run_id}");
    let request = NetworkCreateRequest {
        name: name.clone(),
        labels: Some(labels::run_labels(run_id, owner)),
        ..Default::default()
    };
    docker
        .create_network(request)
        .await
        .expect("creating a labelled network should work");
    name
}

fn exited_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("`true` should start");
    let pid = child.id();
    child.wait().expect("`true` should exit");
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_reaps_dead_owner_and_keeps_live_one() {
    harness::logging::init(true);
    let docker = docker().await;

    let dead_run = RunId::generate();
    let dead_owner = Owner {
        pid: exited_pid(),
        start_ticks: None,
        host: owner::hostname(),
    };
    let dead_network = create_labelled_network(&docker, &dead_run, &dead_owner).await;

    let live_run = RunId::generate();
    create_labelled_network(&docker, &live_run, &Owner::current()).await;

    let report = collect_garbage(&docker, GcMode::DeadRuns)
        .await
        .expect("gc should succeed");

    let live_left = resources_of(&docker, &live_run).await;
    // Remove the live run's network before asserting, so a failure leaves nothing behind.
    harness::cleanup::remove_run(&docker, &live_run, harness::cleanup::CLEANUP_TIMEOUT)
        .await
        .expect("removing the live run's network should work");

    assert!(
        report.removed.iter().any(|r| r.name == dead_network),
        "gc should report removing {dead_network}, removed: {:?}",
        report.removed
    );
    let dead_left = resources_of(&docker, &dead_run).await;
    assert!(
        dead_left.is_empty(),
        "dead run left: {:?}",
        names(&dead_left)
    );
    assert_eq!(live_left.len(), 1, "the live run's network should be kept");
    assert!(
        report.kept.iter().any(|k| k.run_id == live_run.as_str()),
        "gc should report keeping {live_run}, kept: {:?}",
        report.kept
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_helper_leaves_nothing() {
    harness::logging::init(true);
    let docker = docker().await;
    let run_id = RunId::generate();

    let outcome = with_run(options_with_id(&run_id), async |run| {
        assert_started_resources(&resources_of(run.docker(), run.id()).await, run.id());
        // with_run polls its signal listener together with this body, so after a pause the
        // SIGTERM handler is installed and the signal cancels the body instead of ending the
        // process.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // SAFETY: raise only sends SIGTERM to this process.
        unsafe { libc::raise(libc::SIGTERM) };
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    })
    .await;

    assert!(
        matches!(
            outcome,
            Err(harness::error::Error::Interrupted { signal: "SIGTERM" })
        ),
        "with_run should return Interrupted by SIGTERM, got {outcome:?}"
    );
    let left = resources_of(&docker, &run_id).await;
    assert!(
        left.is_empty(),
        "resources left after SIGTERM: {:?}",
        names(&left)
    );
}
