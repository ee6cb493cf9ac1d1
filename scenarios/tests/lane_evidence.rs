//! The leak checks of `harness validate`'s main lane see another lane's logs and passwords,
//! retired ones included. The other lane runs the app built with the fail point that logs the
//! connection string at startup, as the rotation or crashes lane would if a candidate build
//! leaked there.

mod common;

use std::collections::HashMap;

use common::{describe, faulty_app, step};
use harness::check::Status;
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::deployment::{APP_ROLE, Credentials};
use harness::durability::Durability;
use harness::labels::{self, RunId};
use harness::postgres::DataFolder;
use harness::run::{MAIN_LANE, Run, RunOptions};
use harness::secret::Secret;
use scenarios::lane_evidence::LaneEvidence;
use scenarios::leaks_credentials;
use testcontainers::bollard::query_parameters::ListContainersOptions;

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

async fn prepare(run: &mut Run, lane_description: &str) {
    step(
        run.apply_migrations().await,
        &format!("migrating {lane_description}"),
    );
    step(
        run.start_app().await,
        &format!("starting the app of {lane_description}"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_lane_leak_fails_credentials() {
    // Retire the password the faulty app logged, as a rotation drill does after changing it.
    other_lane_leak_fails_credentials("rotation", true, "retired password of role lv_app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lane_leak_fails_credentials() {
    other_lane_leak_fails_credentials("crashes", false, "password of role lv_app").await;
}

/// Runs a main lane and a faulty lane named `lane`, and checks that `leaks.credentials` passes
/// on the main lane alone and fails with the lane's evidence, with a finding labelled
/// `expected_label` in the faulty lane's app log. With `retire`, the lane's app password is
/// replaced before its evidence is collected.
async fn other_lane_leak_fails_credentials(lane: &str, retire: bool, expected_label: &str) {
    harness::logging::init(false);
    let run_id = RunId::generate();
    let main_options = RunOptions {
        run_id: Some(run_id.clone()),
        lane: Some(MAIN_LANE.to_owned()),
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    };
    let lane_options = RunOptions {
        run_id: Some(run_id.clone()),
        lane: Some(lane.to_owned()),
        ..faulty_app(Durability::TestOnly, "startup.log_connection_string=return")
    };
    let (main, faulty) = tokio::join!(Run::start(main_options), Run::start(lane_options));
    let mut main = step(main, "starting the main lane");
    let mut faulty = step(faulty, "starting the faulty lane");
    prepare(&mut main, "the main lane").await;
    prepare(&mut faulty, "the faulty lane").await;
    let postgres = postgres_containers(&run_id).await;

    if retire {
        faulty.set_app_credentials(Credentials {
            role: APP_ROLE.to_owned(),
            password: Secret::generate(),
        });
    }
    let evidence = LaneEvidence::collect(&faulty).await;
    let alone = leaks_credentials::run(&main).await;
    let with_lane = match &evidence {
        Ok(evidence) => {
            Some(leaks_credentials::run_with_lanes(&main, std::slice::from_ref(evidence)).await)
        }
        Err(_) => None,
    };

    let lane_shutdown = faulty.shutdown().await;
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
        [format!("lv-pg-{run_id}"), format!("lv-pg-{run_id}-{lane}")],
        "each lane should have a Postgres container of its own"
    );
    if let Err(message) = &evidence {
        panic!("collecting the lane's evidence failed: {message}");
    }
    assert_eq!(alone.status, Status::Pass, "{}", describe(&alone));
    let with_lane = with_lane.expect("the check should have run with the lane's evidence");
    assert_eq!(with_lane.status, Status::Fail, "{}", describe(&with_lane));
    let app_container = format!("container lv-app-{run_id}-{lane} stdout, line ");
    let finding = with_lane
        .findings
        .iter()
        .find(|finding| finding.contains(expected_label))
        .unwrap_or_else(|| {
            panic!(
                "a finding should name the {expected_label}: {}",
                describe(&with_lane)
            )
        });
    assert!(
        finding.starts_with(&app_container),
        "the finding should point at the faulty lane's app log, {app_container}...: {finding}"
    );
}
