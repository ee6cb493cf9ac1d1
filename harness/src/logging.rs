//! Logging setup: tracing to stderr, every line passed through the redactor first. The process
//! also keeps a copy of what it logged, which `leaks.credentials` scans.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::redact;

/// Maximum size of the copy of the log output kept in memory. Later output is still written to
/// stderr but no longer copied. A `harness validate` run logs well under 1 MiB.
const MAX_CAPTURED_LEN: usize = 16 * 1024 * 1024;

/// Copy of everything this process logged through [`RedactingStderr`], as written.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Returns a copy of the log output this process wrote so far through the subscriber that
/// [`init`] installs (at most the first 16 MiB), exactly as it reached stderr.
pub fn captured_output() -> Vec<u8> {
    CAPTURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

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

        let mut captured = CAPTURED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if captured.len() + text.len() <= MAX_CAPTURED_LEN {
            captured.extend_from_slice(text.as_bytes());
        }
    }
}
