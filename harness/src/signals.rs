//! SIGINT and SIGTERM as a future, so that a run can be cancelled and cleaned up.

use std::sync::OnceLock;

use tokio::signal::unix::{SignalKind, signal};

/// The first SIGINT or SIGTERM that [`interrupted`] returned in this process.
static RECEIVED: OnceLock<&'static str> = OnceLock::new();

/// Completes when the process receives SIGINT or SIGTERM, and returns the signal's name.
///
/// Once called, the first signal no longer ends the process: the caller owns the cleanup and
/// the exit. A second SIGINT or SIGTERM ends the process at once, as the default action does,
/// even while a run's `Drop` is removing containers, and `harness gc` or the next run's reaper
/// removes what is left. If the handlers cannot be installed, the future never completes (the
/// process keeps the default behaviour of ending on the signal) and the failure is logged.
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
    restore_default_actions();
    name
}

/// Gives SIGINT and SIGTERM their default action back, which ends the process, so that the
/// next signal ends it even while the cleanup blocks a thread. tokio does not put its handler
/// back, because it installs the handler once per signal, for the first listener.
fn restore_default_actions() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: SIG_DFL is a valid action for both signals, and no Rust code relies on the
        // replaced handler running again.
        let previous = unsafe { libc::signal(signal, libc::SIG_DFL) };
        if previous == libc::SIG_ERR {
            let error = std::io::Error::last_os_error();
            tracing::warn!(signal, %error, "restoring the default action of a signal failed");
        }
    }
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
