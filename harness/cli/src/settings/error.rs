//! Errors of loading the harness configuration file and of combining it with the environment
//! and the flags. Each one names the setting, the value and where it came from.

use std::path::PathBuf;

/// An invalid configuration file, variable or flag. `harness` exits with status 2 on each.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file named by `--config` or HARNESS_CONFIG does not exist.
    #[error(
        "configuration file {path} (from {origin}) not found; create it, fix the path, or \
         leave out {origin} to use .config/harness.toml of the workspace"
    )]
    NotFound {
        /// Path as given.
        path: PathBuf,
        /// `--config` or `HARNESS_CONFIG`.
        origin: &'static str,
    },

    /// The file exists but cannot be read.
    #[error("reading configuration file {path} failed: {source}")]
    Read {
        /// Path of the file.
        path: PathBuf,
        /// Error of the read.
        source: std::io::Error,
    },

    /// The file is not valid TOML.
    #[error("invalid TOML in {path} line {line}: {message}")]
    Syntax {
        /// Path of the file.
        path: PathBuf,
        /// Line of the error, from 1.
        line: usize,
        /// Parser message.
        message: String,
    },

    /// A key the harness does not know, such as a misspelt setting.
    #[error("unknown key `{key}` in {path} line {line}; valid keys here: {valid}")]
    UnknownKey {
        /// Dotted key, such as `timeouts.postgres_ready`.
        key: String,
        /// Path of the file.
        path: PathBuf,
        /// Line of the key, from 1.
        line: usize,
        /// Keys accepted at that place, separated by commas.
        valid: String,
    },

    /// A value of the wrong TOML type, such as a string for a timeout.
    #[error("invalid type of `{key}` in {path} line {line}: expected {expected}, found {found}")]
    InvalidType {
        /// Dotted key.
        key: String,
        /// Path of the file.
        path: PathBuf,
        /// Line of the value, from 1.
        line: usize,
        /// TOML type the key takes.
        expected: &'static str,
        /// TOML type found.
        found: &'static str,
    },

    /// A value of the right type outside the accepted values.
    #[error("invalid `{key} = {value}` in {path} line {line}: expected {expected}")]
    InvalidFileValue {
        /// Dotted key.
        key: String,
        /// Value as written in the file.
        value: String,
        /// Path of the file.
        path: PathBuf,
        /// Line of the value, from 1.
        line: usize,
        /// Description of the accepted values.
        expected: String,
    },

    /// An environment variable set to a value the harness does not accept.
    #[error("invalid {variable}={value:?}: expected {expected}")]
    InvalidVariable {
        /// Variable name.
        variable: &'static str,
        /// Value as set.
        value: String,
        /// Description of the accepted values.
        expected: String,
    },

    /// A key that the preset named in the same file also sets, so the key would have no effect.
    #[error(
        "`{key}` in {path} line {line} has no effect, because `preset = \"{preset}\"` in the \
         same file sets it; remove one of the two"
    )]
    PresetConflict {
        /// Dotted key.
        key: String,
        /// Path of the file.
        path: PathBuf,
        /// Line of the key, from 1.
        line: usize,
        /// Name of the preset.
        preset: &'static str,
    },

    /// A check selection that names an unknown check or selects none.
    #[error("{0}")]
    Selection(String),
}
