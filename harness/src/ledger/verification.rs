//! The verdict of a ledger: both read-backs compared with the attempts, and the window of
//! unavailability.

use serde::Serialize;
use uuid::Uuid;

use super::comparison::{Comparison, Source, compare};
use super::read_back::{ReadBackError, read_api, read_database};
use super::window::UnavailabilityWindow;
use super::{Attempt, Ledger};
use crate::deployment::Deployment;

/// Maximum number of values a finding lists; it counts the rest.
const LISTED_VALUES: usize = 5;

/// Both read-backs compared with the ledger, and the window of unavailability.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// Comparison with the values read through the API, or `None` when only the database was
    /// read (see [`Verification::from_database`]).
    pub api: Option<Comparison>,
    /// Comparison with the values read from the database.
    pub database: Comparison,
    /// Span of the writes that were not acknowledged, or `None` if all were.
    pub window: Option<UnavailabilityWindow>,
}

impl Verification {
    /// Reads the values back through the API and from the database, and compares both with
    /// `ledger`. The writes must all belong to videos of `owner`, and nothing else may write
    /// videos for that owner. Call it after the load stopped and the fault healed.
    pub async fn read_back(
        deployment: &Deployment,
        check: &str,
        ledger: &Ledger,
        owner: Uuid,
    ) -> Result<Self, ReadBackError> {
        let api = read_api(deployment, check, owner).await?;
        let database = read_database(deployment, owner).await?;
        Ok(Self::from_values(&ledger.attempts(), &api, &database))
    }

    /// Compares `attempts` with values already read back.
    pub fn from_values(attempts: &[Attempt], api: &[String], database: &[String]) -> Self {
        Self {
            api: Some(compare(attempts, api)),
            ..Self::from_database(attempts, database)
        }
    }

    /// Compares `attempts` with the values read from the database only, for a caller whose
    /// API read-back failed (an app that did not recover still leaves the database to judge).
    pub fn from_database(attempts: &[Attempt], database: &[String]) -> Self {
        Self {
            api: None,
            database: compare(attempts, database),
            window: UnavailabilityWindow::of(attempts),
        }
    }

    /// Returns whether either read-back breaks the ledger's rules.
    pub fn is_violated(&self) -> bool {
        self.api.as_ref().is_some_and(Comparison::is_violated) || self.database.is_violated()
    }

    /// Returns one finding per broken rule and read-back, naming the values.
    pub fn findings(&self) -> Vec<String> {
        let mut findings = Vec::new();
        let sources = [
            (Source::Api, self.api.as_ref()),
            (Source::Database, Some(&self.database)),
        ];
        for (source, comparison) in sources {
            let Some(comparison) = comparison else {
                continue;
            };
            let mut add = |count: usize, what: &str, values: Vec<String>| {
                if count > 0 {
                    findings.push(format!(
                        "{count} {what} in the {source} read-back: {}",
                        list(&values)
                    ));
                }
            };
            add(
                comparison.lost.len(),
                "acknowledged writes lost (2xx, but absent)",
                comparison.lost.clone(),
            );
            add(
                comparison.unexpected.len(),
                "unexpected values (present, but never attempted)",
                comparison.unexpected.clone(),
            );
            add(
                comparison.duplicated.len(),
                "duplicated values (present more than once)",
                comparison
                    .duplicated
                    .iter()
                    .map(|(value, copies)| format!("{value} ×{copies}"))
                    .collect(),
            );
            add(
                comparison.failed_but_present.len(),
                "writes reported as failed (4xx or refused connection) but present",
                comparison.failed_but_present.clone(),
            );
        }
        findings
    }

    /// Summarizes the counts and the window in one line, such as `412 writes attempted: 380
    /// acknowledged, 20 failed, 12 indeterminate (3 recovered); lost 0, ...`.
    pub fn summary(&self) -> String {
        let database = &self.database;
        let window = match &self.window {
            None => "every write acknowledged".to_owned(),
            Some(window) => format!(
                "unavailable for {} ms ({} writes not acknowledged, from +{} ms to +{} ms)",
                window.duration().as_millis(),
                window.count,
                window.first_sent.as_millis(),
                window.last_finished.as_millis()
            ),
        };
        let api = match &self.api {
            Some(api) => format!(
                "lost {}, unexpected {}, duplicated {} (API)",
                api.lost.len(),
                api.unexpected.len(),
                api.duplicated.len()
            ),
            None => "API not read".to_owned(),
        };
        format!(
            "{} writes attempted: {} acknowledged, {} failed, {} indeterminate ({} recovered); \
             lost {}, unexpected {}, duplicated {} (database), {api}; {window}",
            database.attempted,
            database.acknowledged,
            database.failed,
            database.indeterminate,
            database.recovered.len(),
            database.lost.len(),
            database.unexpected.len(),
            database.duplicated.len(),
        )
    }
}

fn list(values: &[String]) -> String {
    let shown: Vec<&str> = values
        .iter()
        .take(LISTED_VALUES)
        .map(String::as_str)
        .collect();
    match values.len().checked_sub(LISTED_VALUES) {
        Some(more) if more > 0 => format!("{} and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ledger::Outcome;

    fn attempt(key: &str, outcome: Outcome) -> Attempt {
        Attempt {
            key: key.to_owned(),
            outcome,
            sent: Duration::ZERO,
            finished: Duration::ZERO,
            status: None,
            resource_id: None,
            detail: None,
        }
    }

    #[test]
    fn findings_name_source_and_values() {
        let attempts = [
            attempt("a", Outcome::Acknowledged),
            attempt("b", Outcome::Acknowledged),
        ];
        let api = ["a".to_owned(), "b".to_owned()];
        let database = ["a".to_owned()];

        let verification = Verification::from_values(&attempts, &api, &database);
        let findings = verification.findings();

        assert!(verification.is_violated());
        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert_eq!(
            findings[0],
            "1 acknowledged writes lost (2xx, but absent) in the database read-back: b"
        );
    }

    #[test]
    fn findings_list_at_most_five_values() {
        let values: Vec<String> = (0..7).map(|index| format!("v{index}")).collect();

        assert_eq!(list(&values), "v0, v1, v2, v3, v4 and 2 more");
    }

    #[test]
    fn clean_read_back_has_no_findings() {
        let attempts = [
            attempt("a", Outcome::Acknowledged),
            attempt("u", Outcome::Indeterminate),
        ];
        let values = ["a".to_owned(), "u".to_owned()];

        let verification = Verification::from_values(&attempts, &values, &values);

        assert!(!verification.is_violated());
        assert!(verification.findings().is_empty());
        assert_eq!(verification.database.recovered, vec!["u".to_owned()]);
    }
}
