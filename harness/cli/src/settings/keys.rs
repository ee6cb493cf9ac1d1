//! The settings of the configuration file that map onto an environment variable, and how each
//! value is checked.

use std::ops::RangeInclusive;

use harness::config::{
    self, APP_IMAGE_VAR, APP_READY_TIMEOUT_VAR, APP_RUST_LOG_VAR, ARGON2_ITERATIONS_VAR,
    ARGON2_MEMORY_VAR, Config, ConfigError, KEEP_APP_IMAGES_VAR, POSTGRES_IMAGE_VAR,
    POSTGRES_READY_TIMEOUT_VAR, RUNTIME_IMAGE_VAR,
};
use scenarios::crud_properties;
use scenarios::fault_drill::schedule;

use crate::validate::DEFAULT_PROPERTY_CASES;

/// TOML type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A TOML string.
    String,
    /// A TOML integer.
    Integer,
}

impl ValueType {
    /// Returns the TOML name of the type, as error messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
        }
    }
}

/// A file setting with an environment variable of the same meaning.
#[derive(Debug, PartialEq, Eq)]
pub struct VariableSetting {
    /// Table of the key in the file, such as `timeouts`.
    pub table: &'static str,
    /// Key inside the table, such as `postgres_ready_secs`.
    pub key: &'static str,
    /// Environment variable that overrides the file.
    pub variable: &'static str,
    /// `harness validate` flag that overrides the variable, if there is one.
    pub flag: Option<&'static str>,
    /// TOML type of the value.
    pub value_type: ValueType,
}

impl VariableSetting {
    /// Returns the dotted key, such as `timeouts.postgres_ready_secs`.
    pub fn dotted_key(&self) -> String {
        format!("{}.{}", self.table, self.key)
    }
}

const fn setting(
    table: &'static str,
    key: &'static str,
    variable: &'static str,
    flag: Option<&'static str>,
    value_type: ValueType,
) -> VariableSetting {
    VariableSetting {
        table,
        key,
        variable,
        flag,
        value_type,
    }
}

/// Every file setting that maps onto an environment variable, in the order
/// `harness validate --print-config` prints them.
pub const VARIABLE_SETTINGS: &[VariableSetting] = &[
    setting(
        "images",
        "postgres",
        POSTGRES_IMAGE_VAR,
        None,
        ValueType::String,
    ),
    setting(
        "images",
        "runtime",
        RUNTIME_IMAGE_VAR,
        None,
        ValueType::String,
    ),
    setting(
        "images",
        "app",
        APP_IMAGE_VAR,
        Some("--app-image"),
        ValueType::String,
    ),
    setting(
        "images",
        "keep_app_images",
        KEEP_APP_IMAGES_VAR,
        None,
        ValueType::Integer,
    ),
    setting(
        "timeouts",
        "postgres_ready_secs",
        POSTGRES_READY_TIMEOUT_VAR,
        None,
        ValueType::Integer,
    ),
    setting(
        "timeouts",
        "app_ready_secs",
        APP_READY_TIMEOUT_VAR,
        None,
        ValueType::Integer,
    ),
    setting(
        "timeouts",
        "recovery_bound_ms",
        schedule::RECOVERY_BOUND_VAR,
        None,
        ValueType::Integer,
    ),
    setting(
        "app",
        "argon2_memory_kib",
        ARGON2_MEMORY_VAR,
        None,
        ValueType::Integer,
    ),
    setting(
        "app",
        "argon2_iterations",
        ARGON2_ITERATIONS_VAR,
        None,
        ValueType::Integer,
    ),
    setting("app", "rust_log", APP_RUST_LOG_VAR, None, ValueType::String),
    setting(
        "crud_properties",
        "cases",
        crud_properties::CASES_VAR,
        Some("--cases"),
        ValueType::Integer,
    ),
    setting(
        "crud_properties",
        "seed",
        crud_properties::SEED_VAR,
        Some("--seed"),
        ValueType::Integer,
    ),
    setting(
        "faults",
        "seed",
        schedule::SEED_VAR,
        None,
        ValueType::Integer,
    ),
];

/// Checks `value` of `variable` with the parser that reads the variable, and returns the
/// description of the accepted values when it is rejected.
pub fn check_value(variable: &str, value: &str) -> Result<(), String> {
    match variable {
        crud_properties::CASES_VAR => check_integer(value, 1..=u32::MAX),
        crud_properties::SEED_VAR | schedule::SEED_VAR => check_integer(value, 0..=u64::MAX),
        schedule::RECOVERY_BOUND_VAR => check_integer(value, 1..=u64::MAX),
        _ => {
            // Only `variable` is set, so any rejection is about its value.
            let result = Config::from_lookup(|name| (name == variable).then(|| value.to_owned()));
            match result {
                Ok(_) => Ok(()),
                Err(ConfigError::Invalid { expected, .. }) => Err(expected),
            }
        }
    }
}

/// Checks that `value` is an integer in `range`, as the variable's own parser does.
fn check_integer<T>(value: &str, range: RangeInclusive<T>) -> Result<(), String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.trim().parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(()),
        _ => Err(format!(
            "an integer from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// Returns the line `--print-config` shows for `key` when nothing sets `variable`: the
/// default as TOML, or a comment when the setting has no value by default.
pub fn default_line(key: &str, variable: &str) -> String {
    let defaults = Config::from_lookup(|_| None).expect("the defaults are valid");
    let value = match variable {
        POSTGRES_IMAGE_VAR => quoted(&defaults.postgres_image.to_string()),
        RUNTIME_IMAGE_VAR => quoted(&defaults.runtime_image.to_string()),
        POSTGRES_READY_TIMEOUT_VAR => defaults.postgres_ready_timeout.as_secs().to_string(),
        APP_READY_TIMEOUT_VAR => defaults.app_ready_timeout.as_secs().to_string(),
        schedule::RECOVERY_BOUND_VAR => schedule::DEFAULT_RECOVERY_BOUND.as_millis().to_string(),
        ARGON2_MEMORY_VAR => defaults.argon2.memory_kib.to_string(),
        ARGON2_ITERATIONS_VAR => defaults.argon2.iterations.to_string(),
        APP_RUST_LOG_VAR => quoted(&defaults.app_rust_log),
        crud_properties::CASES_VAR => DEFAULT_PROPERTY_CASES.to_string(),
        APP_IMAGE_VAR => {
            return format!("# {key} is not set: the app image is built from the workspace");
        }
        KEEP_APP_IMAGES_VAR => {
            return format!(
                "# {key} is not set: validate prunes no image, and gc keeps {}",
                config::DEFAULT_KEEP_APP_IMAGES
            );
        }
        crud_properties::SEED_VAR | schedule::SEED_VAR => {
            return format!("# {key} is not set: a random seed, which the report prints");
        }
        _ => panic!("{variable} is not a file setting"),
    };
    format!("{key} = {value}")
}

/// Returns `text` as a TOML basic string.
///
/// NOTE: Rust's Debug escapes equal TOML's for printable text, quotes, backslashes, `\n` and
/// `\t`. Other control characters come out as `\u{..}`, which TOML does not accept.
pub fn quoted(text: &str) -> String {
    format!("{text:?}")
}
