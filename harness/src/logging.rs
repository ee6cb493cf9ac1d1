//! Logging setup: tracing to stderr, every line passed through the redactor first. The process
//! also keeps a copy of what it logged, which `leaks.credentials` scans.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

use crate::progress::{ProgressLayer, terminal};

use crate::redact::redact;

/// Variable with the harness's log filter.
pub const RUST_LOG_VAR: &str = "RUST_LOG";

/// Maximum size of the copy of the log output kept in memory. Later output is still written to
/// stderr but no longer copied. A `harness validate` run logs well under 1 MiB.
const MAX_CAPTURED_LEN: usize = 16 * 1024 * 1024;

/// Copy of everything this process logged through [`RedactingStderr`], as written.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Returns a copy of the log output this process wrote so far through the subscriber that
/// [`try_init`] installs (at most the first 16 MiB), exactly as it reached stderr.
pub fn captured_output() -> Vec<u8> {
    CAPTURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// A log filter variable whose value tracing-subscriber cannot parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid {variable}={value:?}: {cause}; expected a tracing filter such as `info`, `debug` \
     or `info,harness=debug`, or unset {variable}"
)]
pub struct InvalidLogFilter {
    /// Variable name.
    pub variable: &'static str,
    /// Value as set.
    pub value: String,
    /// The parser's message.
    pub cause: String,
}

/// Parses the value of a log filter variable with the same parser the harness and the app use
/// (`EnvFilter::try_new` of tracing-subscriber 0.3).
pub fn parse_filter(variable: &'static str, value: &str) -> Result<EnvFilter, InvalidLogFilter> {
    EnvFilter::try_new(value).map_err(|error| InvalidLogFilter {
        variable,
        value: value.to_owned(),
        cause: error.to_string(),
    })
}

/// Installs the global tracing subscriber: RUST_LOG if set and not empty, otherwise `info`, or
/// `debug` for the harness crates when `verbose`. Returns an error, and installs nothing, when
/// RUST_LOG cannot be parsed. Does nothing if a subscriber is already installed (as happens when
/// several tests in one process call it).
pub fn try_init(verbose: bool) -> Result<(), InvalidLogFilter> {
    let filter = match std::env::var(RUST_LOG_VAR) {
        Ok(value) if !value.is_empty() => parse_filter(RUST_LOG_VAR, &value)?,
        _ => default_filter(verbose),
    };
    install(filter);
    Ok(())
}

/// Installs the global tracing subscriber like [`try_init`], and, when stderr is a terminal,
/// the live progress line (see [`crate::progress`]). The line replaces the info-level log
/// lines: without `verbose` or RUST_LOG, only warnings and errors are logged beside it. When
/// stderr is not a terminal, this is [`try_init`].
pub fn try_init_with_progress(verbose: bool) -> Result<(), InvalidLogFilter> {
    if !std::io::stderr().is_terminal() {
        return try_init(verbose);
    }
    let filter = match std::env::var(RUST_LOG_VAR) {
        Ok(value) if !value.is_empty() => parse_filter(RUST_LOG_VAR, &value)?,
        _ if verbose => default_filter(true),
        _ => EnvFilter::new("warn"),
    };
    // The events the progress line reads: checks and image builds at info, and the cases of
    // crud.properties at debug.
    let progress_filter = Targets::new()
        .with_target("harness", LevelFilter::INFO)
        .with_target("harness_cli", LevelFilter::INFO)
        .with_target("scenarios", LevelFilter::DEBUG);
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_writer(RedactingStderr)
        .with_ansi(true)
        .with_target(false)
        .with_filter(filter);
    let installed = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(ProgressLayer.with_filter(progress_filter))
        .try_init();
    if installed.is_ok() {
        crate::progress::terminal::start();
    }
    Ok(())
}

/// Installs the global tracing subscriber like [`try_init`], but falls back to the default
/// filter, with a warning, when RUST_LOG cannot be parsed. For tests, which cannot exit early.
pub fn init(verbose: bool) {
    if let Err(error) = try_init(verbose) {
        install(default_filter(verbose));
        tracing::warn!("{error}; using the default filter");
    }
}

fn default_filter(verbose: bool) -> EnvFilter {
    // sqlx logs Postgres notices (such as "relation already exists, skipping") at info.
    if verbose {
        EnvFilter::new(
            "info,sqlx::postgres::notice=warn,harness=debug,harness_cli=debug,scenarios=debug",
        )
    } else {
        EnvFilter::new("info,sqlx::postgres::notice=warn")
    }
}

fn install(filter: EnvFilter) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A [`MakeWriter`] that hands out one buffer per log event and writes it to stderr, redacted,
/// when the event is complete.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine { buffer: Vec::new() }
    }
}

/// Buffer of one log event, redacted and written to stderr on drop.
#[derive(Debug)]
pub struct RedactingLine {
    buffer: Vec<u8>,
}

impl Write for RedactingLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingLine {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.buffer));
        terminal::write_above(text.as_bytes());

        let mut captured = CAPTURED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if captured.len() + text.len() <= MAX_CAPTURED_LEN {
            captured.extend_from_slice(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_filters_parse() {
        for value in [
            "info",
            "debug",
            "info,harness=debug",
            "harness::run=trace",
            "warn,sqlx=off",
        ] {
            assert!(
                parse_filter(RUST_LOG_VAR, value).is_ok(),
                "{value:?} should parse"
            );
        }
    }

    #[test]
    fn invalid_filters_name_variable_and_value() {
        for value in ["harness=loud", "info,=debug", "[{"] {
            let error = parse_filter("HARNESS_APP_RUST_LOG", value)
                .expect_err(&format!("{value:?} should be rejected"));
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("invalid HARNESS_APP_RUST_LOG={value:?}: ")),
                "{message}"
            );
        }
    }
}
