//! The harness's checks as library functions. Each check takes a running
//! [`Deployment`](harness::deployment::Deployment), or the [`Run`](harness::run::Run) when it
//! needs the containers, and returns a
//! [`CheckResult`](harness::check::CheckResult); the CLI and the nextest wrappers in
//! `tests/` call the same functions.

pub mod access_isolation;
pub mod access_least_privilege;
pub mod crud_properties;
pub mod crud_smoke;
pub mod errors_sanitized;
pub mod fixtures;
pub mod leak_scan;
pub mod leaks_credentials;
pub mod leaks_password_hash;
pub mod migration_files;
pub mod migrations_replay;
pub mod redact;
pub mod rotation;
pub mod schema;
pub mod snapshot;
pub mod tour;

/// Names of the checks, in the order `harness validate` runs them.
pub const CHECKS: &[&str] = &[
    migrations_replay::NAME,
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
    access_isolation::NAME,
];
