//! Secret values that never print, and redaction of text that leaves the harness.

use std::fmt;

/// A password or other credential. `Debug` and `Display` print `[redacted]`;
/// the value is reached only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must never be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Generates a random password unique to this run: 32 alphanumeric characters.
    pub fn generate() -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        Self(Alphanumeric.sample_string(&mut rand::rng(), 32))
    }

    /// Returns the secret value. Callers pass it on to a connection or a
    /// container's environment and never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
