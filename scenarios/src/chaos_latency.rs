//! Check `chaos.latency`: Postgres responds late under load. Postgres is frozen and thawed in
//! short seeded cycles (100 to 400 ms frozen, 50 to 250 ms running), so that queries and
//! connects in a freeze wait for the thaw. Writes may slow down or time out, but none may be
//! lost, errors must be sanitized, and the app must serve normally afterwards.
//!
//! NOTE: `tc qdisc ... netem` is the usual way to add latency and loss, but the kernel of the
//! machine this was written on has no netem (`tc qdisc add dev eth0 root netem delay 100ms`
//! in a container's network namespace fails with "Specified qdisc kind is unknown", while tbf
//! and htb work), and neither image ships `tc`. The freeze cycles need no capability and no
//! image, but they delay both directions and drop no packets.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "chaos.latency";

/// Returns the drill: 3 to 5 s of freeze cycles.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::Stutter,
        hold_ms: 3000..=5000,
    }
}

/// Runs the check.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
