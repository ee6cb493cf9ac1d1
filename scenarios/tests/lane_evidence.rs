//! The leak checks of `harness validate`'s main lane see another lane's logs and retired
//! passwords. The other lane runs the app built with the fail point that logs the connection
//! string at startup, as the rotation lane would if a candidate build leaked there.

mod common;

use std::collections::HashMap;

use common::{describe, faulty_app, step};
use harness::check::Status;
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::deployment::{APP_ROLE, Credentials};
use harness::durability::Durability;
use harness::labels::{self, RunId};
use harness::run::{MAIN_LANE, Run, RunOptions};
use harness::secret::Secret;
use scenarios::lane_evidence::LaneEvidence;
use scenarios::leaks_credentials;
use testcontainers::bollard::query_parameters::ListContainersOptions;

/// Lane of the faulty app, named as `harness validate` names the rotation drills' lane.
const LANE: &str = "rotation";

/// Lists the names of the Postgres containers labelled with `run_id`.
async fn postgres_containers(run_id: &RunId) -> Vec<String> {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    let filter: HashMap<String, Vec<String>> = labels::run_filter(run_id);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter),
            ..Default::default()
        }))
        .await
        .expect("listing containers should work");
    let mut names: Vec<String> = containers
        .into_iter()
        .filter_map(|container| container.names.and_then(|names| names.into_iter().next()))
        .map(|name| name.trim_start_matches('/').to_owned())
        .filter(|name| name.starts_with("lv-pg-"))
        .collect();
    names.sort();
    names
}

async fn prepare(run: &mut Run, what: &str) {
    step(run.apply_migrations().await, &format!("migrating {what}"));
    step(
        run.start_app().await,
        &format!("starting the app of {what}"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_lane_leak_fails_credentials() {
    harness::logging::init(false);
    let run_id = RunId::generate();
    let main_options = RunOptions {
        run_id: Some(run_id.clone()),
        lane: Some(MAIN_LANE.to_owned()),
        durability: Durability::TestOnly,
        ..RunOptions::default()
    };
    let lane_options = RunOptions {
        run_id: Some(run_id.clone()),
        lane: Some(LANE.to_owned()),
        ..faulty_app(Durability::TestOnly, "startup.log_connection_string=return")
    };
    let (main, lane) = tokio::join!(Run::start(main_options), Run::start(lane_options));
    let mut main = step(main, "starting the main lane");
    let mut lane = step(lane, "starting the faulty lane");
    prepare(&mut main, "the main lane").await;
    prepare(&mut lane, "the faulty lane").await;
    let postgres = postgres_containers(&run_id).await;

    // Retire the password the faulty app logged, as a rotation drill does after changing it.
    lane.set_app_credentials(Credentials {
        role: APP_ROLE.to_owned(),
        password: Secret::generate(),
    });
    let evidence = LaneEvidence::collect(&lane).await;
    let alone = leaks_credentials::run(&main).await;
    let with_lane = match &evidence {
        Ok(evidence) => {
            Some(leaks_credentials::run_with_lanes(&main, std::slice::from_ref(evidence)).await)
        }
        Err(_) => None,
    };

    let lane_shutdown = lane.shutdown().await;
    let main_shutdown = main.shutdown().await;
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    cleanup::remove_run(&docker, &run_id, CLEANUP_TIMEOUT)
        .await
        .expect("the run's image pins should be removed");

    assert!(lane_shutdown.is_ok(), "the faulty lane should shut down");
    assert!(main_shutdown.is_ok(), "the main lane should shut down");
    assert_eq!(
        postgres,
        [format!("lv-pg-{run_id}"), format!("lv-pg-{run_id}-{LANE}")],
        "each lane should have a Postgres container of its own"
    );
    if let Err(message) = &evidence {
        panic!("collecting the lane's evidence failed: {message}");
    }
    assert_eq!(alone.status, Status::Pass, "{}", describe(&alone));
    let with_lane = with_lane.expect("the check should have run with the lane's evidence");
    assert_eq!(with_lane.status, Status::Fail, "{}", describe(&with_lane));
    let app_container = format!("container lv-app-{run_id}-{LANE} stdout, line ");
    let finding = with_lane
        .findings
        .iter()
        .find(|finding| finding.contains("retired password of role lv_app"))
        .unwrap_or_else(|| {
            panic!(
                "a finding should name the retired password: {}",
                describe(&with_lane)
            )
        });
    assert!(
        finding.starts_with(&app_container),
        "the finding should point at the faulty lane's app log, {app_container}...: {finding}"
    );
}
