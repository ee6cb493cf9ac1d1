//! Check `restarts.postgres_fast`: a fast shutdown of Postgres under load, then a start of the
//! same container. SIGINT to the server (PID 1 of the container) is Postgres's fast shutdown:
//! it rolls back open transactions, writes a checkpoint and exits. `docker stop` would send
//! the image's stop signal instead, which is SIGINT for the localizevideos image but SIGTERM
//! (smart shutdown) for others, so the check sends SIGINT itself.

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "restarts.postgres_fast";

/// Returns the drill: SIGINT, then 1 to 3 s down before the container starts again.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::PostgresSignal("SIGINT"),
        hold_ms: 1000..=3000,
    }
}

/// Runs the check. Postgres restarts; the run's deployment has its new published port.
pub async fn run(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}
