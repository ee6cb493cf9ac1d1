//! Container logs: the last lines, redacted, for readiness errors, and the whole output, for the
//! checks that scan it.

use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::LogsOptions;

use crate::error::{Error, Result};
use crate::redact::redact;

/// Number of log lines shown when a container does not become ready.
pub const TAIL_LINES: usize = 30;

/// Returns the last `lines` lines of stdout and stderr of `container_id`, interleaved as Docker
/// stored them and redacted. A failure to read them is returned as a line of text, because this
/// runs while another error is being reported.
pub async fn tail(docker: &Docker, container_id: &str, lines: usize) -> String {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: lines.to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(container_id, Some(options));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(output) => text.push_str(&String::from_utf8_lossy(&output.into_bytes())),
            Err(error) => {
                text.push_str(&format!("(reading the container log failed: {error})\n"));
                break;
            }
        }
    }
    if text.trim().is_empty() {
        return "(the container logged nothing)".to_owned();
    }
    indent(&redact(text.trim_end()))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole stdout and stderr of one container, as Docker stored them. Not redacted: they are
/// read to be scanned for secrets, and never printed.
#[derive(Clone)]
pub struct ContainerLogs {
    /// Container name.
    pub container: String,
    /// Everything the container wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the container wrote to stderr.
    pub stderr: Vec<u8>,
}

impl std::fmt::Debug for ContainerLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerLogs")
            .field("container", &self.container)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}

/// Reads the whole stdout and stderr of `container_id` (named `name` in the result). The
/// container may be running or stopped, but not removed.
pub async fn read_all(docker: &Docker, container_id: &str, name: &str) -> Result<ContainerLogs> {
    let stdout = read_output(docker, container_id, true).await?;
    let stderr = read_output(docker, container_id, false).await?;
    Ok(ContainerLogs {
        container: name.to_owned(),
        stdout,
        stderr,
    })
}

async fn read_output(docker: &Docker, container_id: &str, stdout: bool) -> Result<Vec<u8>> {
    let options = LogsOptions {
        stdout,
        stderr: !stdout,
        ..Default::default()
    };
    let mut stream = docker.logs(container_id, Some(options));
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| {
            let output = if stdout { "stdout" } else { "stderr" };
            Error::docker(
                format!("reading the {output} of container {container_id}"),
                source,
            )
        })?;
        bytes.extend_from_slice(&chunk.into_bytes());
    }
    Ok(bytes)
}
