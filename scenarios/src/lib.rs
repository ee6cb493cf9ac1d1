//! The harness's checks as library functions. Each check takes a running
//! [`Deployment`](harness::deployment::Deployment) and returns a
//! [`CheckResult`](harness::check::CheckResult); the CLI and the nextest wrappers in
//! `tests/` call the same functions.

pub mod crud_properties;
pub mod crud_smoke;
pub mod fixtures;
pub mod migration_files;
pub mod migrations_replay;
pub mod redact;
pub mod schema;
pub mod snapshot;

/// Names of the checks, in the order `harness validate` runs them.
pub const CHECKS: &[&str] = &[
    migrations_replay::NAME,
    crud_smoke::NAME,
    crud_properties::NAME,
];
