//! Logging setup: tracing to stderr, every line passed through the redactor first.

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::redact;

/// Installs the global tracing subscriber: RUST_LOG if set, otherwise `info`, or `debug` for the
/// harness crates when `verbose`. Does nothing if a subscriber is already installed (as happens
/// when several tests in one process call it).
pub fn init(verbose: bool) {
    // sqlx logs Postgres notices (such as "relation already exists, skipping") at info.
    let default_filter = if verbose {
        "info,sqlx::postgres::notice=warn,harness=debug,harness_cli=debug,scenarios=debug"
    } else {
        "info,sqlx::postgres::notice=warn"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
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
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}
