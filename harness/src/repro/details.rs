//! The inputs a failing check adds to its repro bundle beyond its result.

/// A text file of a repro bundle that only the check can fill, such as the shrunk call
/// sequence or the fault schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReproFile {
    /// File name inside the bundle, such as `sequence.txt`.
    pub name: String,
    /// Contents. The bundle redacts it before writing.
    pub contents: String,
}

/// Seed and replay inputs of a failed check, attached to its [`CheckResult`].
///
/// [`CheckResult`]: crate::check::CheckResult
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReproDetails {
    /// Seed of the failing run as the check prints it, such as `1234` or `cc 0f…`.
    pub seed: Option<String>,
    /// Options of `harness validate` that replay the failure besides `--only`, such as
    /// `["--replay", "cc 0f…"]`.
    pub validate_args: Vec<String>,
    /// Variables the replay needs, such as `HARNESS_FAULT_SEED=1234`. Never a password.
    pub env: Vec<(String, String)>,
    /// Files only the check can fill.
    pub files: Vec<ReproFile>,
}

impl ReproDetails {
    /// Adds a file named `name` with `contents`.
    pub fn with_file(mut self, name: &str, contents: impl Into<String>) -> Self {
        self.files.push(ReproFile {
            name: name.to_owned(),
            contents: contents.into(),
        });
        self
    }
}
