//! Check `restarts.app_graceful`: SIGTERM to the app under load. The app must drain: exit with
//! code 0, send a response to every request in flight, lose no acknowledged write, and send only
//! sanitized errors. A new app container then serves again.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "restarts.app_graceful";

/// Returns the drill: SIGTERM, then 200 to 1000 ms without an app before a new container starts.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::AppSignal("SIGTERM"),
        hold_ms: 200..=1000,
    }
}

/// Runs the check. The app container is replaced; the run's deployment has the new URL.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
