//! The set checker: compares the attempted writes with the values read back.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::attempt::{Attempt, Outcome};

/// Origin of the values read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The app's HTTP API.
    Api,
    /// The database, read directly as the auditor role.
    Database,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api => f.write_str("API"),
            Self::Database => f.write_str("database"),
        }
    }
}

/// Result of comparing the attempted writes with one read-back. Lists are sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Writes attempted.
    pub attempted: usize,
    /// Writes acknowledged (2xx).
    pub acknowledged: usize,
    /// Writes that definitely failed.
    pub failed: usize,
    /// Writes with an indeterminate outcome.
    pub indeterminate: usize,
    /// Values read back, duplicates included.
    pub present: usize,
    /// Acknowledged, but absent.
    pub lost: Vec<String>,
    /// Present, but never attempted.
    pub unexpected: Vec<String>,
    /// Present more than once, with the number of copies.
    pub duplicated: Vec<(String, usize)>,
    /// Indeterminate, and present: the write happened although the client did not learn it.
    pub recovered: Vec<String>,
    /// Definitely failed, yet present: the response stated that the write did not happen.
    pub failed_but_present: Vec<String>,
}

impl Comparison {
    /// Returns whether the read-back breaks the ledger's rules: a lost, unexpected, duplicated
    /// or failed-but-present value.
    pub fn is_violated(&self) -> bool {
        !self.lost.is_empty()
            || !self.unexpected.is_empty()
            || !self.duplicated.is_empty()
            || !self.failed_but_present.is_empty()
    }
}

/// Compares `attempts` with the values `present` in the read-back. Keys are unique per ledger;
/// if one appears twice in `attempts`, the later attempt's outcome is used.
pub fn compare(attempts: &[Attempt], present: &[String]) -> Comparison {
    let mut outcomes: HashMap<&str, Outcome> = HashMap::new();
    for attempt in attempts {
        outcomes.insert(attempt.key.as_str(), attempt.outcome);
    }
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for value in present {
        *copies.entry(value.as_str()).or_default() += 1;
    }

    let mut comparison = Comparison {
        attempted: outcomes.len(),
        present: present.len(),
        ..Comparison::default()
    };
    for outcome in outcomes.values() {
        match outcome {
            Outcome::Acknowledged => comparison.acknowledged += 1,
            Outcome::Failed => comparison.failed += 1,
            Outcome::Indeterminate => comparison.indeterminate += 1,
        }
    }

    for (key, outcome) in &outcomes {
        let is_present = copies.contains_key(key);
        match (outcome, is_present) {
            (Outcome::Acknowledged, false) => comparison.lost.push((*key).to_owned()),
            (Outcome::Indeterminate, true) => comparison.recovered.push((*key).to_owned()),
            (Outcome::Failed, true) => comparison.failed_but_present.push((*key).to_owned()),
            _ => {}
        }
    }
    for (value, count) in &copies {
        if !outcomes.contains_key(value) {
            comparison.unexpected.push((*value).to_owned());
        }
        if *count > 1 {
            comparison.duplicated.push(((*value).to_owned(), *count));
        }
    }

    comparison.lost.sort();
    comparison.recovered.sort();
    comparison.failed_but_present.sort();
    comparison
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    struct Case {
        name: &'static str,
        attempts: Vec<Attempt>,
        present: Vec<String>,
        lost: Vec<String>,
        unexpected: Vec<String>,
        duplicated: Vec<(String, usize)>,
        recovered: Vec<String>,
        failed_but_present: Vec<String>,
    }

    fn case(name: &'static str, attempts: Vec<Attempt>, present: &[&str]) -> Case {
        Case {
            name,
            attempts,
            present: strings(present),
            lost: Vec::new(),
            unexpected: Vec::new(),
            duplicated: Vec::new(),
            recovered: Vec::new(),
            failed_but_present: Vec::new(),
        }
    }

    #[test]
    fn compare_table() {
        use Outcome::{Acknowledged as Ack, Failed, Indeterminate as Unknown};
        let cases = vec![
            case("nothing attempted, nothing present", vec![], &[]),
            case(
                "every acknowledged write present",
                vec![attempt("a", Ack), attempt("b", Ack)],
                &["b", "a"],
            ),
            Case {
                lost: strings(&["b"]),
                ..case(
                    "acknowledged but absent is lost",
                    vec![attempt("a", Ack), attempt("b", Ack)],
                    &["a"],
                )
            },
            Case {
                unexpected: strings(&["z"]),
                ..case(
                    "present but never attempted is unexpected",
                    vec![attempt("a", Ack)],
                    &["a", "z"],
                )
            },
            Case {
                duplicated: vec![("a".to_owned(), 3)],
                ..case(
                    "present three times is duplicated",
                    vec![attempt("a", Ack)],
                    &["a", "a", "a"],
                )
            },
            Case {
                recovered: strings(&["u"]),
                ..case(
                    "indeterminate and present is recovered",
                    vec![attempt("a", Ack), attempt("u", Unknown)],
                    &["a", "u"],
                )
            },
            case(
                "indeterminate and absent is fine",
                vec![attempt("u", Unknown)],
                &[],
            ),
            case("failed and absent is fine", vec![attempt("f", Failed)], &[]),
            Case {
                failed_but_present: strings(&["f"]),
                ..case(
                    "failed but present is flagged",
                    vec![attempt("f", Failed)],
                    &["f"],
                )
            },
            Case {
                lost: strings(&["a"]),
                unexpected: strings(&["x", "y"]),
                duplicated: vec![("b".to_owned(), 2), ("x".to_owned(), 2)],
                recovered: strings(&["u"]),
                ..case(
                    "every kind at once",
                    vec![
                        attempt("a", Ack),
                        attempt("b", Ack),
                        attempt("u", Unknown),
                        attempt("f", Failed),
                    ],
                    &["b", "b", "u", "x", "x", "y"],
                )
            },
        ];

        for case in cases {
            let comparison = compare(&case.attempts, &case.present);
            assert_eq!(comparison.lost, case.lost, "{}: lost", case.name);
            assert_eq!(
                comparison.unexpected, case.unexpected,
                "{}: unexpected",
                case.name
            );
            assert_eq!(
                comparison.duplicated, case.duplicated,
                "{}: duplicated",
                case.name
            );
            assert_eq!(
                comparison.recovered, case.recovered,
                "{}: recovered",
                case.name
            );
            assert_eq!(
                comparison.failed_but_present, case.failed_but_present,
                "{}: failed but present",
                case.name
            );
            let violated = !(case.lost.is_empty()
                && case.unexpected.is_empty()
                && case.duplicated.is_empty()
                && case.failed_but_present.is_empty());
            assert_eq!(comparison.is_violated(), violated, "{}: verdict", case.name);
        }
    }

    #[test]
    fn compare_counts_outcomes() {
        let attempts = vec![
            attempt("a", Outcome::Acknowledged),
            attempt("b", Outcome::Acknowledged),
            attempt("f", Outcome::Failed),
            attempt("u", Outcome::Indeterminate),
        ];

        let comparison = compare(&attempts, &strings(&["a", "b", "a"]));

        assert_eq!(comparison.attempted, 4);
        assert_eq!(comparison.acknowledged, 2);
        assert_eq!(comparison.failed, 1);
        assert_eq!(comparison.indeterminate, 1);
        assert_eq!(comparison.present, 3);
    }
}
