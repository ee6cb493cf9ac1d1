//! The Docker client and the reachability check that runs before anything is started.

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::Docker;

use crate::error::{Error, Result};

/// Deadline for the engine to respond to `GET /version`. A local engine responds in
/// milliseconds, so a longer wait would only delay the environment error.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Describes the Docker address the client uses and where it came from, for error messages.
pub fn docker_host_description() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => format!("{host} (from DOCKER_HOST)"),
        _ => "unix:///var/run/docker.sock (the default, because DOCKER_HOST is not set)".to_owned(),
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
    let docker = Docker::connect_with_defaults().map_err(|error| Error::DockerUnreachable {
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

/// Describes why a container is not running (such as `exited with code 1`), or returns `None`
/// while it runs. A failed inspection is returned as the description.
pub async fn stopped_reason(docker: &Docker, container_id: &str) -> Option<String> {
    let inspection = match docker.inspect_container(container_id, None).await {
        Ok(inspection) => inspection,
        Err(error) => return Some(format!("inspecting the container failed: {error}")),
    };
    let state = inspection.state?;
    if state.running == Some(true) {
        return None;
    }
    let status = state
        .status
        .map(|status| status.to_string())
        .unwrap_or_else(|| "not running".to_owned());
    Some(match (state.exit_code, state.oom_killed) {
        (_, Some(true)) => format!("the container was killed for running out of memory ({status})"),
        (Some(code), _) => format!("the container stopped ({status}, exit code {code})"),
        (None, _) => format!("the container stopped ({status})"),
    })
}

/// Builds a testcontainers host-config modifier that publishes `port`/tcp on 127.0.0.1 only,
/// on a free port the engine picks. Without it testcontainers publishes on every interface.
pub fn publish_on_loopback(
    port: u16,
) -> impl Fn(&mut testcontainers::bollard::models::HostConfig) + Send + Sync + 'static {
    move |host_config| {
        let binding = testcontainers::bollard::models::PortBinding {
            host_ip: Some("127.0.0.1".to_owned()),
            host_port: Some(String::new()),
        };
        host_config.publish_all_ports = Some(false);
        host_config.port_bindings = Some(HashMap::from([(
            format!("{port}/tcp"),
            Some(vec![binding]),
        )]));
    }
}
