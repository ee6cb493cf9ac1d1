//! `harness validate` interrupted by SIGINT or SIGTERM while its containers run: it announces
//! the cleanup before the removals, exits with 130 or 143, and leaves no container or network
//! behind. A run killed by SIGKILL cannot clean up, so the next `harness validate` reaps what it
//! left.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harness::labels;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};

/// Deadline for the run's Postgres container to appear. It covers a first build of the images
/// and the app.
const START_TIMEOUT: Duration = Duration::from_secs(600);
/// Deadline for the command to exit after the signal.
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

/// A `harness validate` process whose stderr lines are collected by a thread.
struct Validate {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: JoinHandle<()>,
}

impl Validate {
    /// Starts `harness validate` with `args`.
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .arg("validate")
            .args(args)
            // The reaper would prune this machine's app images; the test keeps them.
            .env("HARNESS_KEEP_APP_IMAGES", "1000")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("harness should start");

        // A thread drains stderr, which cargo's build output can fill, and echoes it for the
        // test log.
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr should be piped");
        let reader = {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    lines
                        .lock()
                        .expect("lock should not be poisoned")
                        .push(line);
                }
            })
        };
        Self {
            child,
            lines,
            reader,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the run's Postgres container exists, so that a signal arrives mid-run.
    async fn wait_for_postgres(&mut self, docker: &Docker) {
        let pid = self.pid();
        let started = Instant::now();
        loop {
            let present = resources_of_pid(docker, pid).await;
            if present.iter().any(|name| name.contains("lv-pg-")) {
                return;
            }
            if let Some(status) = self
                .child
                .try_wait()
                .expect("polling the child should work")
            {
                panic!("harness exited with {status} before its Postgres container appeared");
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = self.child.kill();
                panic!("no Postgres container of pid {pid} within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to exit, and returns its exit status and its stderr lines.
    async fn wait(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("polling the child should work")
            {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("harness did not exit within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        self.reader
            .join()
            .expect("the stderr reader should not panic");
        let lines = self
            .lines
            .lock()
            .expect("lock should not be poisoned")
            .clone();
        (status, lines)
    }
}

/// Starts `harness validate`, sends `signal` once the run's Postgres container exists, and
/// returns the exit code and the lines the command wrote to stderr.
async fn interrupt_validate(signal: libc::c_int) -> (Option<i32>, Vec<String>) {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");

    let mut validate = Validate::spawn(&[]);
    let pid = validate.pid();
    validate.wait_for_postgres(&docker).await;

    // SAFETY: kill only sends a signal to the child this test started and touches no memory.
    let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "sending signal {signal} to pid {pid} should work");

    let (status, lines) = validate.wait(EXIT_TIMEOUT).await;

    let left = resources_of_pid(&docker, pid).await;
    assert!(
        left.is_empty(),
        "resources left after signal {signal}: {left:?}"
    );
    (status.code(), lines)
}

/// Asserts that the announcement of the cleanup comes before the first removal and that no
/// warning about a missed shutdown appears.
fn assert_cleanup_output(lines: &[String], signal: &str) {
    let text = lines.join("\n");
    let announced = lines
        .iter()
        .position(|line| line.starts_with(&format!("interrupted by {signal}: removing")));
    let first_removal = lines.iter().position(|line| line.contains("removed "));
    assert!(
        announced.is_some(),
        "no announcement of the cleanup:\n{text}"
    );
    if let Some(first_removal) = first_removal {
        assert!(
            announced < Some(first_removal),
            "the announcement should come before the removals:\n{text}"
        );
    }
    assert!(
        !text.contains("run dropped without shutdown"),
        "an interrupted run is no missed shutdown:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_exits_130_and_cleans_up() {
    let (code, lines) = interrupt_validate(libc::SIGINT).await;

    assert_eq!(
        code,
        Some(130),
        "harness should exit with 130 after SIGINT (0 means the run finished first)"
    );
    assert_cleanup_output(&lines, "SIGINT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_143_and_cleans_up() {
    let (code, lines) = interrupt_validate(libc::SIGTERM).await;

    assert_eq!(
        code,
        Some(143),
        "harness should exit with 143 after SIGTERM (0 means the run finished first)"
    );
    assert_cleanup_output(&lines, "SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_validate_reaps_sigkilled_run() {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");

    // SIGKILL gives the harness no chance to clean up, so its containers and network stay.
    let mut killed = Validate::spawn(&[]);
    let killed_pid = killed.pid();
    killed.wait_for_postgres(&docker).await;
    // SAFETY: kill only sends a signal to the child this test started and touches no memory.
    let sent = unsafe { libc::kill(killed_pid as libc::pid_t, libc::SIGKILL) };
    assert_eq!(sent, 0, "sending SIGKILL to pid {killed_pid} should work");
    let (status, _) = killed.wait(EXIT_TIMEOUT).await;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "harness should have been killed by SIGKILL, not exited with {status}"
    );
    let left = resources_of_pid(&docker, killed_pid).await;
    assert!(
        left.iter().any(|name| name.contains("lv-pg-")),
        "the killed run should have left its Postgres container behind: {left:?}"
    );

    // The next run reaps what the dead one left before it starts its own containers.
    let next = Validate::spawn(&["--only", "migrations.replay"]);
    let (status, lines) = next.wait(START_TIMEOUT).await;
    let text = lines.join("\n");
    assert!(
        status.success(),
        "the next validate should pass, exited with {status}:\n{text}"
    );
    let left = resources_of_pid(&docker, killed_pid).await;
    assert!(
        left.is_empty(),
        "the next validate should have removed the killed run's resources: {left:?}"
    );
    assert!(
        text.contains("reaped "),
        "the next validate should say what it reaped:\n{text}"
    );
}
