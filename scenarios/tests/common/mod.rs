//! Shared pieces of the nextest wrappers: run a check inside a harness run and describe a
//! result in assertion messages.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use harness::check::CheckResult;
use harness::durability::Durability;
use harness::postgres::DataFolder;
use harness::run::{Run, RunOptions, with_run};

/// Describes a result for an assertion message: status, message and every finding.
pub fn describe(result: &CheckResult) -> String {
    let mut text = format!(
        "check {} returned {:?}: {}",
        result.name, result.status, result.message
    );
    for finding in &result.findings {
        text.push_str(&format!("\n  - {finding}"));
    }
    harness::redact::redact(&text)
}

/// Returns the value of a harness step, or panics with the redacted error (`expect` would print
/// the error's `Debug` form, which is not redacted).
pub fn step<T>(result: harness::error::Result<T>, step: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!("{step} failed: {error}"))
        ),
    }
}

/// Returns run options with test-only durability: Postgres runs with fsync, synchronous_commit
/// and full_page_writes off, with its data folder in memory. Only for checks that never crash,
/// stop or restart Postgres, so the restart, chaos and rotation tests keep the durable default.
pub fn test_only() -> RunOptions {
    RunOptions {
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    }
}

/// Returns [`test_only`] options with the data folder on a volume, for a check that stops
/// Postgres and starts it again (one of [`scenarios::STOPS_POSTGRES`]).
pub fn test_only_stoppable() -> RunOptions {
    RunOptions {
        postgres_data: DataFolder::Volume,
        ..test_only()
    }
}

/// Returns run options for an app built with the `failpoints` feature and started with
/// `FAILPOINTS` set to `failpoints`, such as `video.update.ignore_title=return`, on a Postgres
/// with the given durability. Test-only durability keeps the data folder in memory, as
/// [`test_only`] does.
pub fn faulty_app(durability: Durability, failpoints: &str) -> RunOptions {
    let postgres_data = match durability {
        Durability::TestOnly => DataFolder::Memory,
        Durability::Durable => DataFolder::Volume,
    };
    RunOptions {
        app_features: vec!["failpoints".to_owned()],
        app_env: vec![("FAILPOINTS".to_owned(), failpoints.to_owned())],
        durability,
        postgres_data,
        ..RunOptions::default()
    }
}

/// Starts a run with `options`, runs `body` and shuts the run down, panicking with the harness
/// error if the run cannot start or stop.
pub async fn in_run<T>(options: RunOptions, body: impl AsyncFnOnce(&mut Run) -> T) -> T {
    harness::logging::init(false);
    match with_run(options, body).await {
        Ok(value) => value,
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!("harness run failed: {error}"))
        ),
    }
}
