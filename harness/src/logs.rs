//! The last lines of a container's log, redacted, for readiness errors.

use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::LogsOptions;

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
