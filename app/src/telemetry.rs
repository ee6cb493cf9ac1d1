//! Logging: JSON lines on stdout through tracing.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with `filter` (RUST_LOG syntax). An invalid
/// filter falls back to `info`, and the function returns a message that
/// explains why, for the caller to log once the subscriber is up.
pub fn init(filter: &str) -> Option<String> {
    let (filter, problem) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(err) => (
            EnvFilter::new("info"),
            Some(format!(
                "RUST_LOG={filter:?} is invalid ({err}); logging at info instead"
            )),
        ),
    };

    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
    problem
}
