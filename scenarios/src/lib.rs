//! The harness's checks as library functions. Each check takes a running
//! [`Deployment`](harness::deployment::Deployment), or the [`Run`](harness::run::Run) when it
//! needs the containers, and returns a
//! [`CheckResult`](harness::check::CheckResult); the CLI and the nextest wrappers in
//! `tests/` call the same functions.

use harness::check::CheckResult;
use harness::run::Run;

pub mod access_isolation;
pub mod access_least_privilege;
pub mod chaos_latency;
pub mod chaos_partition;
pub mod chaos_pause;
pub mod chaos_postgres_crash;
pub mod crud_properties;
pub mod crud_smoke;
pub mod database_access;
mod default_privileges;
pub mod errors_sanitized;
pub mod fault_drill;
pub mod fixtures;
pub mod lane_evidence;
pub mod leak_scan;
pub mod leaks_credentials;
pub mod leaks_password_hash;
pub mod migration_files;
pub mod migration_source;
pub mod migrations_lint;
pub mod migrations_replay;
pub mod migrations_roundtrip;
pub mod migrations_stepwise;
pub mod migrations_tamper;
mod plural;
pub mod redact;
pub mod repro_bundle;
pub mod restarts_app_crash;
pub mod restarts_app_graceful;
pub mod restarts_postgres_fast;
pub mod rotation;
pub mod schema;
pub mod schema_diff;
pub mod snapshot;
pub mod tour;

/// Names of the checks, in the order `harness validate` runs them.
pub const CHECKS: &[&str] = &[
    migrations_replay::NAME,
    migrations_stepwise::NAME,
    migrations_tamper::NAME,
    migrations_lint::NAME,
    migrations_roundtrip::NAME,
    crud_smoke::NAME,
    crud_properties::NAME,
    access_least_privilege::NAME,
    errors_sanitized::NAME,
    rotation::update_env::NAME,
    rotation::stale_env::NAME,
    rotation::alternating_users::NAME,
    rotation::expiry::NAME,
    leaks_password_hash::NAME,
    leaks_credentials::NAME,
    restarts_app_graceful::NAME,
    restarts_app_crash::NAME,
    restarts_postgres_fast::NAME,
    chaos_postgres_crash::NAME,
    chaos_partition::NAME,
    chaos_pause::NAME,
    chaos_latency::NAME,
    access_isolation::NAME,
];

/// Names of the checks that stop or kill Postgres and start it again. Their run needs a data
/// folder that survives a stop, [`harness::postgres::DataFolder::Volume`].
pub const STOPS_POSTGRES: [&str; 3] = [
    restarts_postgres_fast::NAME,
    chaos_postgres_crash::NAME,
    errors_sanitized::NAME,
];

/// Names of the restart and chaos checks, in the order `harness validate` runs them: last,
/// because each one stops, freezes or cuts off a container, and a fault that did not heal would
/// turn every later check into an error.
pub const FAULT_CHECKS: [&str; 7] = [
    restarts_app_graceful::NAME,
    restarts_app_crash::NAME,
    restarts_postgres_fast::NAME,
    chaos_postgres_crash::NAME,
    chaos_partition::NAME,
    chaos_pause::NAME,
    chaos_latency::NAME,
];

/// Runs the restart or chaos check `name` on a run whose app is started, or returns `None`
/// when `name` is not one of [`FAULT_CHECKS`].
pub async fn run_fault_check(run: &mut Run, name: &str) -> Option<CheckResult> {
    let result = match name {
        restarts_app_graceful::NAME => restarts_app_graceful::run(run).await,
        restarts_app_crash::NAME => restarts_app_crash::run(run).await,
        restarts_postgres_fast::NAME => restarts_postgres_fast::run(run).await,
        chaos_postgres_crash::NAME => chaos_postgres_crash::run(run).await,
        chaos_partition::NAME => chaos_partition::run(run).await,
        chaos_pause::NAME => chaos_pause::run(run).await,
        chaos_latency::NAME => chaos_latency::run(run).await,
        _ => return None,
    };
    Some(result)
}
