//! Check `restarts.postgres_fast`: a fast shutdown of Postgres under load, then a start of the
//! same container. SIGINT to the server (PID 1 of the container) is Postgres's fast shutdown:
//! it rolls back open transactions, writes a checkpoint and exits. `docker stop` would send
//! the image's stop signal instead, which is SIGINT for the localizevideos image but SIGTERM
//! (smart shutdown) for others, so the check sends SIGINT itself.

use std::time::Duration;

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "restarts.postgres_fast";

/// Returns the drill: SIGINT, then 3.5 to 5.5 s down before the container starts again. The
/// app cuts a readiness check off after 3 s, so a shorter outage can end before any poll of
/// `/readyz` sent during it returns 503, and the check would fail without a fault in the app.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::PostgresSignal("SIGINT"),
        hold_ms: 3500..=5500,
    }
}

/// Runs the check. Postgres restarts; the run's deployment has its new published port.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}

/// Runs the check with recovery bound `bound` (see [`fault_drill::run_with_bound`]).
pub async fn run_with_bound(run: &mut Run, bound: Duration) -> CheckResult {
    fault_drill::run_with_bound(run, &drill(), bound).await
}
