//! Check `chaos.pause`: Postgres frozen under load (`docker pause`, the cgroup freezer), then
//! thawed. Connections stay open but get no response, so the app's timeouts decide what clients
//! see. `/readyz` must return 503 during the freeze, and the app must recover without a
//! restart.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "chaos.pause";

/// Returns the drill: 4.5 to 6.5 s frozen, longer than the app's 3 s readiness cut-off, so that a poll
/// sent early in the freeze gets its 503 before the thaw.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::Pause,
        hold_ms: 4500..=6500,
    }
}

/// Runs the check.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
