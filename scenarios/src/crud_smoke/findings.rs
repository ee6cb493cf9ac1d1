//! Steps, comparison of response and database values, and the findings they produce.

use std::collections::BTreeMap;
use std::fmt;

/// One step of the smoke run: a name and the endpoint it calls.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// Short name, such as `update video`.
    pub name: &'static str,
    /// Method and path template, such as `PATCH /v1/videos/{id}`.
    pub endpoint: &'static str,
}

impl Step {
    /// Creates a step.
    pub const fn new(name: &'static str, endpoint: &'static str) -> Self {
        Self { name, endpoint }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step `{}` ({})", self.name, self.endpoint)
    }
}

/// Reason the smoke run could not go on.
#[derive(Debug)]
pub enum Stop {
    /// A rule broke in a way that leaves nothing for later steps to use, such
    /// as a create that did not return 201. The text is the finding.
    Finding(String),
    /// The check could not reach a verdict (app or database unreachable).
    Error(String),
}

/// Field values in canonical text, by field name. `Err` carries what was wrong
/// with the value instead (missing, wrong type, unparsable).
pub type Fields = BTreeMap<&'static str, Result<String, String>>;

/// Findings of one run, each naming its step.
#[derive(Debug, Default)]
pub struct Findings(Vec<String>);

impl Findings {
    /// Records a finding for `step`.
    pub fn push(&mut self, step: Step, text: impl fmt::Display) {
        self.0.push(format!("{step}: {text}"));
    }

    /// Records a finding that belongs to no single step.
    pub fn push_plain(&mut self, text: String) {
        self.0.push(text);
    }

    /// Returns the findings in the order they were recorded.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }

    /// Compares one object as the response shows it and as the database stores it,
    /// and both with the values the request sent.
    ///
    /// Each field yields at most one finding: a sent value that did not arrive
    /// (naming all three values), a response value that is missing or invalid,
    /// or a response value that differs from the database.
    pub fn compare(
        &mut self,
        step: Step,
        response: &Fields,
        database: &Fields,
        sent: &[(&'static str, String)],
    ) {
        for (field, stored) in database {
            let stored = stored.as_deref().unwrap_or_else(|problem| problem);
            let seen = match response.get(field) {
                Some(Ok(seen)) => seen.as_str(),
                Some(Err(problem)) => {
                    self.push(
                        step,
                        format!("field `{field}`: response {problem}, database {stored}"),
                    );
                    continue;
                }
                None => "missing",
            };

            let expected = sent.iter().find(|(name, _)| name == field);
            if let Some((_, expected)) = expected
                && (seen != expected || stored != expected)
            {
                self.push(
                    step,
                    format!(
                        "field `{field}`: request sent {expected}, response {seen}, \
                         database {stored}"
                    ),
                );
            } else if seen != stored {
                self.push(
                    step,
                    format!("field `{field}`: response {seen}, database {stored}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Step = Step::new("update video", "PATCH /v1/videos/{id}");

    fn fields(pairs: &[(&'static str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(name, value)| (*name, Ok((*value).to_owned())))
            .collect()
    }

    #[test]
    fn compare_equal_fields_no_finding() {
        let mut findings = Findings::default();
        let values = fields(&[("title", "\"b\"")]);

        findings.compare(STEP, &values, &values, &[("title", "\"b\"".to_owned())]);

        assert!(findings.into_vec().is_empty());
    }

    #[test]
    fn compare_ignored_sent_value_is_finding() {
        let mut findings = Findings::default();
        let values = fields(&[("title", "\"a\"")]);

        findings.compare(STEP, &values, &values, &[("title", "\"b\"".to_owned())]);

        assert_eq!(
            findings.into_vec(),
            [
                "step `update video` (PATCH /v1/videos/{id}): field `title`: request sent \"b\", \
              response \"a\", database \"a\""
            ]
        );
    }

    #[test]
    fn compare_response_differs_from_database() {
        let mut findings = Findings::default();
        let response = fields(&[("duration_seconds", "10")]);
        let database = fields(&[("duration_seconds", "11")]);

        findings.compare(STEP, &response, &database, &[]);

        assert_eq!(
            findings.into_vec(),
            [
                "step `update video` (PATCH /v1/videos/{id}): field `duration_seconds`: \
              response 10, database 11"
            ]
        );
    }

    #[test]
    fn compare_missing_response_field() {
        let mut findings = Findings::default();
        let database = fields(&[("status", "\"ready\"")]);

        findings.compare(STEP, &Fields::new(), &database, &[]);

        assert_eq!(
            findings.into_vec(),
            [
                "step `update video` (PATCH /v1/videos/{id}): field `status`: response missing, \
              database \"ready\""
            ]
        );
    }

    #[test]
    fn compare_invalid_response_field() {
        let mut findings = Findings::default();
        let mut response = Fields::new();
        response.insert("id", Err("not a UUID: \"x\"".to_owned()));
        let database = fields(&[("id", "0b6c5f4e-0000-4000-8000-000000000000")]);

        findings.compare(STEP, &response, &database, &[]);

        assert_eq!(
            findings.into_vec(),
            [
                "step `update video` (PATCH /v1/videos/{id}): field `id`: response not a UUID: \"x\", \
              database 0b6c5f4e-0000-4000-8000-000000000000"
            ]
        );
    }
}
