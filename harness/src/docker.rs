//! The Docker client and the reachability check that runs before anything is started.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::ContainerState;

use crate::engine_address::EngineAddress;
use crate::error::{Error, Result};
use crate::logs;

/// Deadline for the engine to respond to `GET /version`. A local engine responds in
/// milliseconds, so a longer wait would only delay the environment error.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Variable that names the Docker engine's address, as for the docker CLI.
pub const DOCKER_HOST_VAR: &str = "DOCKER_HOST";
/// Address used when DOCKER_HOST is unset or empty.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Returns DOCKER_HOST, or `None` when it is unset or empty: the docker CLI treats an empty
/// value as unset.
pub fn docker_host() -> Option<String> {
    std::env::var(DOCKER_HOST_VAR)
        .ok()
        .filter(|host| !host.is_empty())
}

/// Removes DOCKER_HOST from the environment when it is set but empty, so that testcontainers,
/// which takes any value as the address, uses the default socket as the docker CLI does.
///
/// # Safety
///
/// Call it only while the process has a single thread, such as at the start of `main` before
/// a runtime starts: changing the environment races with reads of it from other threads.
pub unsafe fn unset_empty_docker_host() {
    if std::env::var_os(DOCKER_HOST_VAR).is_some_and(|host| host.is_empty()) {
        // SAFETY: the caller guarantees that no other thread runs.
        unsafe { std::env::remove_var(DOCKER_HOST_VAR) };
    }
}

/// Describes the Docker address the client uses and where it came from, for error messages.
pub fn docker_host_description() -> String {
    match docker_host() {
        Some(host) => format!("{host} (from DOCKER_HOST)"),
        None => format!("{DEFAULT_DOCKER_HOST} (the default, because DOCKER_HOST is not set)"),
    }
}

/// Returns testcontainers' Docker client after checking that the engine responds.
///
/// The client shares its host settings with the containers testcontainers starts (DOCKER_HOST,
/// then the default socket). The API version is negotiated down to the engine's: bollard 0.21
/// defaults to API 1.53 and Docker 20.10 supports at most 1.41.
///
/// NOTE: bollard 0.21.1 builds request paths with `Url::join`, which drops the `/v1.53`
/// prefix, so unversioned requests reach the engine and work even before negotiation.
/// The negotiation is kept so that a bollard release that sends the prefix still works.
pub async fn connect() -> Result<Docker> {
    let unreachable = |cause: String| Error::DockerUnreachable {
        host: docker_host_description(),
        cause,
    };
    // testcontainers 0.28 reads DOCKER_HOST itself and fails on an empty value. The harness
    // command removes an empty value at start, but a test process has to unset it.
    if std::env::var_os(DOCKER_HOST_VAR).is_some_and(|host| host.is_empty()) {
        return Err(unreachable(
            "DOCKER_HOST is set but empty, which testcontainers rejects as an address; unset \
             it (`unset DOCKER_HOST`) to use the default socket"
                .to_owned(),
        ));
    }

    // A DOCKER_HOST that the harness cannot reach published ports through is a usage error,
    // reported before testcontainers tries the address.
    EngineAddress::from_env()?;

    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|error| unreachable(error_chain(&error)))?;

    let negotiated = tokio::time::timeout(VERSION_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| {
            unreachable(format!(
                "no answer to GET /version within {VERSION_TIMEOUT:?}"
            ))
        })?
        .map_err(|error| unreachable(error_chain(&error)))?;

    let version = negotiated.client_version();
    tracing::debug!(
        api_version = %format!("{}.{}", version.major_version, version.minor_version),
        "Docker engine reachable"
    );
    Ok(negotiated)
}

/// Formats an error with its sources, such as `client error (Connect): Connection refused`,
/// because the client's top-level message alone does not say what went wrong.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Creates a new Docker client that shares no connections with testcontainers' client.
///
/// Used from a thread with its own runtime (the cleanup in `Drop`): a pooled connection of the
/// shared client belongs to the runtime that opened it, which may be blocked in that `Drop`.
pub fn connect_unshared() -> Result<Docker> {
    let host = docker_host().unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
    let docker = Docker::connect_with_host(&host).map_err(|error| Error::DockerUnreachable {
        host: docker_host_description(),
        cause: error_chain(&error),
    })?;
    Ok(docker)
}

/// Returns whether a Docker error is a 404 (no such container, network or image).
pub fn is_not_found(error: &testcontainers::bollard::errors::Error) -> bool {
    matches!(
        error,
        testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Returns the first 12 characters of a Docker id, as the Docker CLI shows it.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Describes why a container is not running (such as `exited with code 1 after running
/// 0.74 s`), or returns `None` while it runs. A failed inspection is returned as the
/// description.
pub async fn stopped_reason(docker: &Docker, container_id: &str) -> Option<String> {
    let inspection = match docker.inspect_container(container_id, None).await {
        Ok(inspection) => inspection,
        Err(error) => return Some(format!("inspecting the container failed: {error}")),
    };
    describe_stop(&inspection.state?)
}

/// Returns [`Error::StoppedBeforeReady`] with the container's last log lines if the container
/// has stopped, or `None` while it runs. `last_error` is the failure that made the caller look,
/// such as the last readiness probe.
pub async fn stopped_before_ready(
    docker: &Docker,
    container: &str,
    container_id: &str,
    last_error: String,
) -> Option<Error> {
    let reason = stopped_reason(docker, container_id).await?;
    Some(Error::StoppedBeforeReady {
        container: container.to_owned(),
        id: short_id(container_id).to_owned(),
        reason,
        last_error,
        logs: logs::tail(docker, container_id, logs::TAIL_LINES).await,
    })
}

/// Describes a stopped container's state, or returns `None` while it runs.
fn describe_stop(state: &ContainerState) -> Option<String> {
    if state.running == Some(true) {
        return None;
    }
    let ran_for = match (&state.started_at, &state.finished_at) {
        (Some(started), Some(finished)) => run_time(started, finished)
            .map(|time| format!(" after running {:.2} s", time.as_secs_f64()))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let status = state
        .status
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "not running".to_owned());
    Some(match (state.exit_code, state.oom_killed) {
        (_, Some(true)) => format!("was killed for running out of memory{ran_for} ({status})"),
        (Some(code), _) if status == "exited" => format!("exited with code {code}{ran_for}"),
        (Some(code), _) => format!("stopped ({status}, exit code {code}){ran_for}"),
        (None, _) => format!("stopped ({status}){ran_for}"),
    })
}

/// Returns the time between Docker's StartedAt and FinishedAt (RFC 3339), or `None` if either
/// is missing or the container never finished (Docker reports year 1 then).
fn run_time(started_at: &str, finished_at: &str) -> Option<Duration> {
    let started = chrono::DateTime::parse_from_rfc3339(started_at).ok()?;
    let finished = chrono::DateTime::parse_from_rfc3339(finished_at).ok()?;
    if started.timestamp() <= 0 || finished.timestamp() <= 0 {
        return None;
    }
    (finished - started).to_std().ok()
}

/// Builds a testcontainers host-config modifier that publishes `port`/tcp on `bind_ip` only
/// (127.0.0.1 for a local engine), on a free port the engine picks. Without it testcontainers
/// publishes on every interface.
pub fn publish_on(
    port: u16,
    bind_ip: Ipv4Addr,
) -> impl Fn(&mut testcontainers::bollard::models::HostConfig) + Send + Sync + 'static {
    move |host_config| {
        let binding = testcontainers::bollard::models::PortBinding {
            host_ip: Some(bind_ip.to_string()),
            host_port: Some(String::new()),
        };
        host_config.publish_all_ports = Some(false);
        host_config.port_bindings = Some(HashMap::from([(
            format!("{port}/tcp"),
            Some(vec![binding]),
        )]));
    }
}

/// Builds a testcontainers host-config modifier that publishes no port. testcontainers 0.28
/// otherwise publishes every exposed port on every interface.
pub fn publish_no_ports()
-> impl Fn(&mut testcontainers::bollard::models::HostConfig) + Send + Sync + 'static {
    |host_config| {
        host_config.publish_all_ports = Some(false);
        host_config.port_bindings = Some(HashMap::new());
    }
}

#[cfg(test)]
mod tests {
    use testcontainers::bollard::models::ContainerStateStatusEnum;

    use super::*;

    fn exited(code: i64, started_at: &str, finished_at: &str) -> ContainerState {
        ContainerState {
            status: Some(ContainerStateStatusEnum::EXITED),
            running: Some(false),
            oom_killed: Some(false),
            exit_code: Some(code),
            started_at: Some(started_at.to_owned()),
            finished_at: Some(finished_at.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn running_container_has_no_stop() {
        let state = ContainerState {
            status: Some(ContainerStateStatusEnum::RUNNING),
            running: Some(true),
            ..Default::default()
        };
        assert_eq!(describe_stop(&state), None);
    }

    #[test]
    fn exit_names_code_and_run_time() {
        let state = exited(
            1,
            "2025-01-14T09:30:15.100000000Z",
            "2025-01-14T09:30:15.840000000Z",
        );
        assert_eq!(
            describe_stop(&state).as_deref(),
            Some("exited with code 1 after running 0.74 s")
        );
    }

    #[test]
    fn unfinished_container_has_no_run_time() {
        let state = exited(0, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
        assert_eq!(describe_stop(&state).as_deref(), Some("exited with code 0"));
    }

    #[test]
    fn out_of_memory_is_named() {
        let mut state = exited(137, "2025-01-14T09:30:15Z", "2025-01-14T09:30:17Z");
        state.oom_killed = Some(true);
        let description = describe_stop(&state).expect("a stopped container has a description");
        assert!(
            description.starts_with("was killed for running out of memory after running 2.00 s"),
            "{description}"
        );
    }
}
