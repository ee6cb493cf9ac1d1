//! Faults injected into a run's containers through the Docker API: a signal to the main
//! process, a freeze with the cgroup freezer (`docker pause`), and a disconnect from the run's
//! network. Each injection is logged with the container and the time.

use std::time::{Duration, Instant};

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{NetworkConnectRequest, NetworkDisconnectRequest};
use testcontainers::bollard::query_parameters::KillContainerOptions;

use crate::error::{Error, Result};
use crate::logs;

/// Interval between inspections while waiting for a container to exit.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Sends `signal` (such as `SIGKILL`, `SIGTERM` or `SIGINT`) to the main process of container
/// `name`.
///
/// NOTE: it takes a container name and checks nothing about it. A signal that ends a Postgres
/// whose data folder is in memory loses the data, so call
/// [`crate::postgres::PostgresContainer::check_survives_stop`] first.
pub async fn send_signal(docker: &Docker, name: &str, signal: &str) -> Result<()> {
    let options = KillContainerOptions {
        signal: signal.to_owned(),
    };
    docker
        .kill_container(name, Some(options))
        .await
        .map_err(|source| Error::Docker {
            action: format!("sending {signal} to container {name}"),
            source,
        })?;
    tracing::info!(container = %name, %signal, "fault: signal sent");
    Ok(())
}

/// Freezes every process of container `name` (`docker pause`).
pub async fn pause(docker: &Docker, name: &str) -> Result<()> {
    docker
        .pause_container(name)
        .await
        .map_err(|source| Error::Docker {
            action: format!("pausing container {name}"),
            source,
        })?;
    tracing::info!(container = %name, "fault: container paused");
    Ok(())
}

/// Thaws container `name` (`docker unpause`).
pub async fn unpause(docker: &Docker, name: &str) -> Result<()> {
    docker
        .unpause_container(name)
        .await
        .map_err(|source| Error::Docker {
            action: format!("unpausing container {name}"),
            source,
        })?;
    tracing::info!(container = %name, "fault: container unpaused");
    Ok(())
}

/// Disconnects container `name` from `network`, so that other containers on it can neither
/// resolve its name nor reach it.
pub async fn disconnect(docker: &Docker, network: &str, name: &str) -> Result<()> {
    let request = NetworkDisconnectRequest {
        container: name.to_owned(),
        force: Some(true),
    };
    docker
        .disconnect_network(network, request)
        .await
        .map_err(|source| Error::Docker {
            action: format!("disconnecting container {name} from network {network}"),
            source,
        })?;
    tracing::info!(container = %name, %network, "fault: container disconnected");
    Ok(())
}

/// Connects container `name` to `network` again.
pub async fn connect(docker: &Docker, network: &str, name: &str) -> Result<()> {
    let request = NetworkConnectRequest {
        container: name.to_owned(),
        endpoint_config: None,
    };
    docker
        .connect_network(network, request)
        .await
        .map_err(|source| Error::Docker {
            action: format!("connecting container {name} to network {network}"),
            source,
        })?;
    tracing::info!(container = %name, %network, "fault: container reconnected");
    Ok(())
}

/// Waits until container `name` has exited and returns its exit code, at most `timeout`. On a
/// timeout the error shows the container's last log lines.
pub async fn wait_until_exited(docker: &Docker, name: &str, timeout: Duration) -> Result<i64> {
    let started = Instant::now();
    loop {
        let inspected = docker
            .inspect_container(name, None)
            .await
            .map_err(|source| Error::Docker {
                action: format!("inspecting container {name}"),
                source,
            })?;
        let state = inspected.state.unwrap_or_default();
        if state.running != Some(true) {
            let code = state.exit_code.unwrap_or_default();
            tracing::info!(container = %name, exit_code = code, elapsed = ?started.elapsed(), "container exited");
            return Ok(code);
        }
        if started.elapsed() >= timeout {
            return Err(Error::StillRunning {
                container: name.to_owned(),
                timeout,
                log_lines: logs::TAIL_LINES,
                logs: logs::tail(docker, name, logs::TAIL_LINES).await,
            });
        }
        tokio::time::sleep(EXIT_POLL_INTERVAL).await;
    }
}
