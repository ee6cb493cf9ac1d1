//! The structured result that every check returns.

use std::time::Duration;

use serde::Serialize;

use crate::repro::ReproDetails;

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The rule holds.
    Pass,
    /// The rule is broken: the message names what broke it.
    Fail,
    /// The check could not run to a verdict (container, network or setup failure).
    Error,
    /// The check does not apply to this project, such as a round trip without down
    /// migrations. The message gives the reason. A skip does not fail the run.
    Skip,
}

/// Result of one check, as printed in the table and written to `report.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// Stable check name, such as `migrations.replay`.
    pub name: String,
    /// Verdict.
    pub status: Status,
    /// Wall-clock time the check took, in milliseconds.
    pub duration_ms: u64,
    /// One line for the table: why it failed, or what it verified.
    pub message: String,
    /// Individual findings, one per broken rule, each pointing at its cause.
    pub findings: Vec<String>,
    /// Seed and replay inputs for the repro bundle of a failure. Not part of report.json.
    #[serde(skip)]
    pub repro: Option<ReproDetails>,
}

impl CheckResult {
    /// Builds a result from findings: no findings is a pass.
    pub fn from_findings(
        name: &str,
        duration: Duration,
        passed_message: impl Into<String>,
        findings: Vec<String>,
    ) -> Self {
        let (status, message) = match findings.first() {
            None => (Status::Pass, passed_message.into()),
            Some(first) if findings.len() == 1 => (Status::Fail, first.clone()),
            Some(first) => (
                Status::Fail,
                format!("{first} (and {} more findings)", findings.len() - 1),
            ),
        };
        Self {
            name: name.to_owned(),
            status,
            duration_ms: duration.as_millis() as u64,
            message,
            findings,
            repro: None,
        }
    }

    /// Builds a result for a check that does not apply; `reason` starts with `skipped:`.
    pub fn skipped(name: &str, duration: Duration, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: Status::Skip,
            duration_ms: duration.as_millis() as u64,
            message: reason.into(),
            findings: Vec::new(),
            repro: None,
        }
    }

    /// Attaches the seed and replay inputs that a repro bundle of this result needs.
    pub fn with_repro(mut self, details: ReproDetails) -> Self {
        self.repro = Some(details);
        self
    }

    /// Builds a result for a check that could not reach a verdict.
    pub fn error(name: &str, duration: Duration, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: Status::Error,
            duration_ms: duration.as_millis() as u64,
            message: message.into(),
            findings: Vec::new(),
            repro: None,
        }
    }
}
