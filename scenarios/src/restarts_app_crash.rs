//! Check `restarts.app_crash`: SIGKILL to the app under load. Every acknowledged write must
//! survive, because the app acknowledges only committed transactions, and errors must be
//! sanitized. A new app container then serves again.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "restarts.app_crash";

/// Returns the drill: SIGKILL, then 200 to 1000 ms without an app before a new container starts.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::AppSignal("SIGKILL"),
        hold_ms: 200..=1000,
    }
}

/// Runs the check. The app container is replaced; the run's deployment has the new URL.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
