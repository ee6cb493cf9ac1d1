//! SIGINT and SIGTERM as a future, so that a run can be cancelled and cleaned up.

use std::sync::OnceLock;

use tokio::signal::unix::{SignalKind, signal};

/// The first SIGINT or SIGTERM that [`interrupted`] returned in this process.
static RECEIVED: OnceLock<&'static str> = OnceLock::new();

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
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    let _ = RECEIVED.set(name);
    name
}

/// Returns the first signal that [`interrupted`] returned, or `None` if none arrived. A run
/// dropped after a signal is an expected cancellation, not a missed shutdown.
pub fn received() -> Option<&'static str> {
    RECEIVED.get().copied()
}

/// Returns the exit status for a process ended by `signal`: 128 plus the signal number, as
/// shells report it (130 for SIGINT, 143 for SIGTERM).
pub fn exit_status(signal: &str) -> u8 {
    match signal {
        "SIGTERM" => 128 + 15,
        _ => 128 + 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_follows_shell_convention() {
        assert_eq!(exit_status("SIGINT"), 130);
        assert_eq!(exit_status("SIGTERM"), 143);
    }
}
