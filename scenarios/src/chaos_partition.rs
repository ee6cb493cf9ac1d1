//! Check `chaos.partition`: Postgres disconnected from the run network under load for a few
//! seconds, then reconnected. The app reaches Postgres by container name, which does not
//! resolve while it is disconnected. `/readyz` must return 503 during the partition, and
//! the app must recover without a restart.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "chaos.partition";

/// Returns the drill: 2 to 4 s disconnected.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::Partition,
        hold_ms: 2000..=4000,
    }
}

/// Runs the check.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
