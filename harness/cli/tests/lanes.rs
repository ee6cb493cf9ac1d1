//! `harness validate` runs its checks in lanes, each with a Postgres container of its own under
//! the one run id, reports them in the checks' canonical order and removes every lane.

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::labels;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::ListContainersOptions;

/// Deadline for the whole command. It covers a first build of the app image.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Interval between the listings of the run's containers.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Lists the names of the containers labelled with owner `pid`.
async fn containers_of_pid(docker: &Docker, pid: u32) -> Vec<String> {
    let filter = HashMap::from([("label".to_owned(), vec![format!("{}={pid}", labels::PID)])]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter),
            ..Default::default()
        }))
        .await
        .expect("listing containers should work");
    containers
        .into_iter()
        .filter_map(|container| container.names.and_then(|names| names.into_iter().next()))
        .map(|name| name.trim_start_matches('/').to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_get_own_postgres() {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    let report_dir =
        std::env::temp_dir().join(format!("lanes-{}", harness::labels::RunId::generate()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "validate",
            "--only",
            "restarts.app_graceful,crud.smoke,migrations.lint",
            "--report",
        ])
        .arg(&report_dir)
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness should start");
    let pid = child.id();

    // Every Postgres container seen while the command runs.
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut postgres = BTreeSet::new();
    let mut exited = false;
    while Instant::now() < deadline {
        for name in containers_of_pid(&docker, pid).await {
            if name.starts_with("lv-pg-") {
                postgres.insert(name);
            }
        }
        if child
            .try_wait()
            .expect("the child should be waitable")
            .is_some()
        {
            exited = true;
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    if !exited {
        child.kill().ok();
    }
    let output = child.wait_with_output().expect("the output should be read");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let left = containers_of_pid(&docker, pid).await;

    assert!(
        exited,
        "validate should end within {RUN_TIMEOUT:?}\nstderr:\n{stderr}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "expected exit 0\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let run_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("run "))
        .unwrap_or_else(|| panic!("stdout should name the run\nstdout:\n{stdout}"))
        .trim()
        .to_owned();
    let expected = BTreeSet::from([format!("lv-pg-{run_id}"), format!("lv-pg-{run_id}-crashes")]);
    assert_eq!(
        postgres, expected,
        "the main and crashes lanes should each run a Postgres container"
    );
    assert!(left.is_empty(), "every lane should be removed: {left:?}");

    // The table lists the checks in their canonical order, whichever lane ends first.
    let table_rows: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| ["migrations.lint", "crud.smoke", "restarts.app_graceful"].contains(word))
        .collect();
    assert_eq!(
        table_rows,
        ["migrations.lint", "crud.smoke", "restarts.app_graceful"],
        "stdout:\n{stdout}"
    );
    let lane_line = stdout
        .lines()
        .find(|line| line.starts_with("lanes: "))
        .unwrap_or_else(|| panic!("stdout should give the lanes' times\nstdout:\n{stdout}"));
    assert!(lane_line.contains("main "), "{lane_line}");
    assert!(lane_line.contains("crashes "), "{lane_line}");
    std::fs::remove_dir_all(&report_dir).ok();
}
