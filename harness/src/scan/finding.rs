//! Findings: where a secret was found and a redacted excerpt of its surroundings.

use std::fmt;

use serde::Serialize;

/// Position of a finding inside its source.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// 1-based line and byte column in a text or byte stream.
    Line {
        /// Line number, from 1.
        line: u64,
        /// Byte column, from 1.
        column: u64,
    },
    /// Path of a JSON field, such as `$.items[0].password_hash`, and the byte column of the
    /// match inside the field's string value (from 1).
    Field {
        /// JSON path of the field.
        path: String,
        /// Byte column inside the value, from 1.
        column: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { line, column } => write!(f, "line {line}, column {column}"),
            Location::Field { path, column: 1 } => write!(f, "field {path}"),
            Location::Field { path, column } => write!(f, "field {path}, column {column}"),
        }
    }
}

/// One secret found in a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Name of the scanned source, such as `container lv-app-… stdout` or a response body.
    pub source: String,
    /// Position in the source.
    pub location: Location,
    /// Label of the canary or format that matched.
    pub label: String,
    /// Whether the match is a canary's exact value, rather than a format's.
    pub exact: bool,
    /// The surroundings of the match on its line, with every match replaced by its label and the
    /// rest redacted. Never contains the secret.
    pub excerpt: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}: {}: `{}`",
            self.source, self.location, self.label, self.excerpt
        )
    }
}
