//! SIGINT and SIGTERM as a future, so that a run can be cancelled and cleaned up.

use tokio::signal::unix::{SignalKind, signal};

/// Completes when the process receives SIGINT or SIGTERM, and returns the signal's name.
///
/// Once called, the signals no longer end the process by default: the caller owns the cleanup
/// and the exit. If the handlers cannot be installed, the future never completes (the process
/// keeps the default behaviour of ending on the signal) and the failure is logged.
pub async fn interrupted() -> &'static str {
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "installing SIGINT/SIGTERM handlers failed");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
