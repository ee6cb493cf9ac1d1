//! The harness's checks as library functions. Each check takes a running
//! [`Deployment`](harness::deployment::Deployment), or the [`Run`](harness::run::Run) when it
//! needs the containers, and returns a
//! [`CheckResult`](harness::check::CheckResult); the CLI and the nextest wrappers in
//! `tests/` call the same functions.

pub mod crud_properties;
pub mod crud_smoke;
pub mod errors_sanitized;
pub mod fixtures;
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
pub mod redact;
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
    errors_sanitized::NAME,
    leaks_password_hash::NAME,
    leaks_credentials::NAME,
];
