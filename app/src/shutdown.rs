//! Graceful shutdown: the signals that start it (SIGTERM and SIGINT) and the
//! bounded wait for in-flight requests.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

/// Handlers for SIGTERM and SIGINT. Installed at start, so that a signal
/// that arrives before the server runs is still caught, not fatal.
pub struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers; needs a running tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

/// Waits until the server task has finished its in-flight requests, at most
/// `grace`. Returns `false` when the requests were abandoned, because the
/// grace period elapsed or a second signal arrived.
pub async fn drain(
    server_task: &mut JoinHandle<std::io::Result<()>>,
    signals: &mut ShutdownSignals,
    grace: Duration,
) -> bool {
    tokio::select! {
        result = tokio::time::timeout(grace, server_task) => match result {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(err))) => {
                tracing::error!("HTTP server failed while draining: {err}");
                true
            }
            Ok(Err(err)) => {
                tracing::error!("HTTP server task failed while draining: {err}");
                true
            }
            Err(_elapsed) => {
                tracing::warn!(
                    grace_ms = grace.as_millis() as u64,
                    "shutdown grace period elapsed; abandoning the requests still running"
                );
                false
            }
        },
        name = signals.recv() => {
            tracing::warn!(signal = name, "second signal; abandoning the requests still running");
            false
        }
    }
}
