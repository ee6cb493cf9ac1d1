//! Check `chaos.postgres_crash`: SIGKILL to Postgres under load, then a start of the same
//! container. With fsync and synchronous_commit on, a commit is acknowledged only after its WAL
//! reached the disk, so every acknowledged write must survive crash recovery. The check
//! verifies both settings first, because without them the rule does not hold.

use std::time::Instant;

use harness::check::CheckResult;
use harness::run::Run;

use crate::fault_drill::{self, Drill, Fault};

/// Stable check name.
pub const NAME: &str = "chaos.postgres_crash";

/// Reads the two settings that make a commit durable.
const DURABILITY_SETTINGS: &str =
    "SELECT current_setting('fsync'), current_setting('synchronous_commit')";

/// Returns the drill: SIGKILL, then 3.5 to 5.5 s down before the container starts again. The
/// app cuts a readiness check off after 3 s, so a shorter outage can end before any poll of
/// `/readyz` sent during it returns 503, and the check would fail without a fault in the app.
pub fn drill() -> Drill {
    Drill {
        check: NAME,
        fault: Fault::PostgresSignal("SIGKILL"),
        hold_ms: 3500..=5500,
    }
}

/// Runs the check: verifies that fsync and synchronous_commit are on, then runs the drill.
/// Postgres restarts; the run's deployment has its new published port.
pub async fn run(run: &mut Run) -> CheckResult {
    let started = Instant::now();
    if let Err(message) = require_durable_commits(run).await {
        return CheckResult::error(NAME, started.elapsed(), message);
    }
    fault_drill::run(run, &drill()).await
}

/// Runs the drill without verifying the settings, for the self-test that turns
/// synchronous_commit off and expects lost writes.
pub async fn run_drill(run: &mut Run) -> CheckResult {
    fault_drill::run(run, &drill()).await
}

async fn require_durable_commits(run: &Run) -> Result<(), String> {
    let deployment = run.deployment();
    let pool = deployment
        .pool(&deployment.auditor)
        .await
        .map_err(|error| {
            format!(
                "connecting to Postgres as the auditor role failed: {}",
                harness::redact::redact(&error.to_string())
            )
        })?;
    let settings: Result<(String, String), sqlx::Error> =
        sqlx::query_as(DURABILITY_SETTINGS).fetch_one(&pool).await;
    pool.close().await;
    let (fsync, synchronous_commit) = settings
        .map_err(|error| format!("reading fsync and synchronous_commit failed: {error}"))?;
    if fsync != "on" || synchronous_commit != "on" {
        return Err(format!(
            "Postgres runs with fsync={fsync} and synchronous_commit={synchronous_commit}, so an \
             acknowledged commit may be lost in a crash and the check has no rule to verify; \
             run Postgres with both on"
        ));
    }
    Ok(())
}
