//! `harness validate` interrupted by SIGINT while its containers run: it exits with 130 and
//! leaves no container or network behind.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::labels;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};

/// Deadline for the run's Postgres container to appear. It covers a first build of the images
/// and the app.
const START_TIMEOUT: Duration = Duration::from_secs(600);
/// Deadline for the command to exit after SIGINT.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Lists the names of the containers and networks labelled with owner `pid`.
async fn resources_of_pid(docker: &Docker, pid: u32) -> Vec<String> {
    let filter = HashMap::from([("label".to_owned(), vec![format!("{}={pid}", labels::PID)])]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter.clone()),
            ..Default::default()
        }))
        .await
        .expect("listing containers should work");
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filter),
        }))
        .await
        .expect("listing networks should work");

    let container_names = containers
        .into_iter()
        .filter_map(|c| c.names.and_then(|names| names.into_iter().next()));
    let network_names = networks.into_iter().filter_map(|n| n.name);
    container_names.chain(network_names).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_exits_130_and_cleans_up() {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");

    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("validate")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("harness should start");
    let pid = child.id();

    // Wait until the run's Postgres container exists, so the signal arrives mid-run.
    let started = Instant::now();
    loop {
        let present = resources_of_pid(&docker, pid).await;
        if present.iter().any(|name| name.contains("lv-pg-")) {
            break;
        }
        if let Some(status) = child.try_wait().expect("polling the child should work") {
            panic!("harness exited with {status} before its Postgres container appeared");
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            panic!("no Postgres container of pid {pid} within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SAFETY: kill only sends SIGINT to the child this test started and touches no memory.
    let sent = unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0, "sending SIGINT to pid {pid} should work");

    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the child should work") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("harness did not exit within {EXIT_TIMEOUT:?} after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(
        status.code(),
        Some(130),
        "harness should exit with 130 after SIGINT (0 means the run finished first), got {status}"
    );
    let left = resources_of_pid(&docker, pid).await;
    assert!(left.is_empty(), "resources left after SIGINT: {left:?}");
}
