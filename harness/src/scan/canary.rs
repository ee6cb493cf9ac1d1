//! Canaries: exact secret values unique to a run, such as role passwords and stored hashes.

use crate::secret::Secret;

/// Minimum canary length in bytes. Shorter values would match ordinary text.
pub const MIN_CANARY_LEN: usize = 8;

/// A secret value to look for, with the label that replaces it in findings.
#[derive(Clone, Debug)]
pub struct Canary {
    label: String,
    value: Secret,
}

impl Canary {
    /// Creates a canary. `label` names the secret without revealing it, such as
    /// `password of role lv_app`.
    pub fn new(label: impl Into<String>, value: Secret) -> Self {
        Self {
            label: label.into(),
            value,
        }
    }

    /// Returns the label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Returns the secret value, for matching only.
    pub(crate) fn value(&self) -> &str {
        self.value.expose()
    }
}
