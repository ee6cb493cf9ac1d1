//! `junit.xml`: the run as a JUnit test suite, one test case per check, for CI systems that
//! show test results.

use super::Report;
use crate::check::Status;
use crate::redact::redact;

/// File name of the JUnit report inside the report folder.
pub const JUNIT_FILE: &str = "junit.xml";

/// Renders the report as JUnit XML: a `<testsuite>` named `harness validate` with one
/// `<testcase>` per check. A failed check gets a `<failure>`, a check that ended with status
/// error an `<error>`, a skipped check `<skipped>`. The findings are the element's text.
pub fn render(report: &Report) -> String {
    let count = |status: Status| {
        report
            .checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    };
    let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"harness validate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
         time=\"{}\">\n",
        report.checks.len(),
        count(Status::Fail),
        count(Status::Error),
        seconds(report.duration_ms),
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"harness validate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
         skipped=\"{}\" time=\"{}\" timestamp=\"{}\">\n",
        report.checks.len(),
        count(Status::Fail),
        count(Status::Error),
        count(Status::Skip),
        seconds(report.duration_ms),
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
    ));
    xml.push_str(&format!(
        "    <properties><property name=\"run_id\" value=\"{}\"/></properties>\n",
        escape(&report.run_id)
    ));

    for check in &report.checks {
        let open = format!(
            "    <testcase name=\"{}\" classname=\"harness.validate\" time=\"{}\"",
            escape(&check.name),
            seconds(check.duration_ms)
        );
        let element = match check.status {
            Status::Pass => None,
            Status::Fail => Some("failure"),
            Status::Error => Some("error"),
            Status::Skip => Some("skipped"),
        };
        match element {
            None => xml.push_str(&format!("{open}/>\n")),
            Some(element) => {
                let body = if check.findings.is_empty() {
                    check.message.clone()
                } else {
                    check.findings.join("\n")
                };
                xml.push_str(&format!(
                    "{open}>\n      <{element} message=\"{}\">{}</{element}>\n    </testcase>\n",
                    escape(&check.message),
                    escape(&body),
                ));
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    redact(&xml)
}

/// Escapes text for an XML attribute or element, and drops the control characters that XML
/// 1.0 does not allow.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' => escaped.push_str("&#10;"),
            '\t' | '\r' => escaped.push(' '),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn junit_counts_failures() {
        let xml = render(&sample_report());

        assert!(
            xml.contains("tests=\"2\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
    }

    #[test]
    fn junit_passing_case_is_empty() {
        let xml = render(&sample_report());

        assert!(
            xml.contains("<testcase name=\"migrations.replay\" classname=\"harness.validate\" time=\"1.234\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn junit_failure_lists_findings() {
        let xml = render(&sample_report());

        assert!(xml.contains("<failure message="), "{xml}");
        assert!(xml.contains("PATCH ignored title&#10;"), "{xml}");
    }

    #[test]
    fn junit_is_redacted() {
        let xml = render(&sample_report());

        assert!(!xml.contains("hunter2x"), "{xml}");
    }

    #[test]
    fn escape_handles_markup_and_controls() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
