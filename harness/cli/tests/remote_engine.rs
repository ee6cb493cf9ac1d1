//! `harness validate` against a Docker engine reached over TCP, as a remote engine is.
//!
//! A proxy in this test listens on 127.0.0.2 and forwards each connection to the local engine's
//! unix socket. With `DOCKER_HOST=tcp://127.0.0.2:PORT`, the harness must send every request to
//! that address, have the engine publish the containers' ports on 127.0.0.2, and reach Postgres
//! and the app there. Nothing listens on 127.0.0.2 but the proxy and the published ports, so a
//! harness that still used the default socket or 127.0.0.1 would fail or leave the proxy unused.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use harness::labels;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use tokio::net::{TcpListener, UnixStream};

/// Address of the proxy. Any 127.0.0.0/8 address is loopback on Linux, and this one is not
/// the default 127.0.0.1, so a hard-coded 127.0.0.1 in the harness cannot pass by accident.
const PROXY_IP: &str = "127.0.0.2";
/// Deadline for the whole `harness validate` run, which may first build the app.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(600);

/// Returns the path of the local engine's unix socket, from DOCKER_HOST or the default.
fn local_socket() -> PathBuf {
    match harness::docker::docker_host() {
        Some(host) => PathBuf::from(
            host.strip_prefix("unix://")
                .expect("this test needs a local engine on a unix socket"),
        ),
        None => PathBuf::from("/var/run/docker.sock"),
    }
}

/// Starts a proxy from 127.0.0.2 to the engine's socket and returns its port and a counter of
/// the connections it accepted.
async fn start_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((PROXY_IP, 0))
        .await
        .expect("binding a port on 127.0.0.2 should work");
    let port = listener
        .local_addr()
        .expect("the listener should have an address")
        .port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let socket = local_socket();

    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let socket = socket.clone();
            tokio::spawn(async move {
                let Ok(mut engine) = UnixStream::connect(&socket).await else {
                    return;
                };
                // Either side may close first; the copy ends then, and so does the connection.
                let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
            });
        }
    });
    (port, accepted)
}

/// Returns the host IPs that the containers labelled with owner `pid` publish their ports on.
async fn published_ips(docker: &Docker, pid: u32) -> BTreeSet<String> {
    let filter = HashMap::from([("label".to_owned(), vec![format!("{}={pid}", labels::PID)])]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter),
            ..Default::default()
        }))
        .await
        .unwrap_or_default();

    let mut ips = BTreeSet::new();
    for container in containers {
        let Some(id) = container.id else { continue };
        let Ok(details) = docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
        else {
            continue;
        };
        let bindings = details
            .host_config
            .and_then(|config| config.port_bindings)
            .unwrap_or_default();
        for binding in bindings.into_values().flatten().flatten() {
            if let Some(ip) = binding.host_ip {
                ips.insert(ip);
            }
        }
    }
    ips
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_through_tcp_engine_address() {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    let (port, accepted) = start_proxy().await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["validate", "--only", "crud.smoke"])
        .env("DOCKER_HOST", format!("tcp://{PROXY_IP}:{port}"))
        .env_remove("HARNESS_PUBLISH_IP")
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("harness should start");
    let pid = child.id().expect("the child should have a pid");

    // Sample the port bindings of the run's containers while it runs.
    let mut seen_ips = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + VALIDATE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the child should work") {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "harness validate did not exit within {VALIDATE_TIMEOUT:?}"
        );
        seen_ips.extend(published_ips(&docker, pid).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = child
        .wait_with_output()
        .await
        .expect("reading the output should work");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(
        status.success(),
        "validate through tcp://{PROXY_IP}:{port} should pass, exited with {status}\n\
         stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        accepted.load(Ordering::Relaxed) > 0,
        "the harness should have sent its Docker requests through the proxy"
    );
    assert!(
        seen_ips.contains(PROXY_IP),
        "the run's containers should publish their ports on {PROXY_IP}, saw {seen_ips:?}"
    );
    assert!(
        !seen_ips.contains("127.0.0.1"),
        "no port should be published on 127.0.0.1 for a tcp:// engine, saw {seen_ips:?}"
    );
}

#[test]
fn validate_rejects_ssh_engine_address() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["validate", "--only", "crud.smoke"])
        .env("DOCKER_HOST", "ssh://user@127.0.0.1")
        .output()
        .expect("harness should start");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(
        output.status.code(),
        Some(2),
        "an unsupported DOCKER_HOST is an environment error:\n{stderr}"
    );
    assert!(
        stderr.contains("DOCKER_HOST"),
        "the error should name DOCKER_HOST:\n{stderr}"
    );
}
