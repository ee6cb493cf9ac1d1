//! `summary.md`: the run in Markdown, fit for a CI job summary such as GitHub Actions'
//! `$GITHUB_STEP_SUMMARY`.

use super::Report;
use crate::check::Status;
use crate::redact::redact;

/// File name of the Markdown summary inside the report folder.
pub const SUMMARY_FILE: &str = "summary.md";

/// Renders the report as Markdown: a verdict line, a table of the checks, then the findings of
/// each check that did not pass.
pub fn render(report: &Report) -> String {
    let passed = report
        .checks
        .iter()
        .filter(|check| check.status == Status::Pass)
        .count();
    let verdict = if report.all_passed() {
        "passed"
    } else {
        "FAILED"
    };

    let mut markdown = format!(
        "## harness validate {verdict}\n\nRun `{}`, started {}, took {:.1} s: {passed} of {} \
         checks passed.\n\n",
        report.run_id,
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.duration_ms as f64 / 1000.0,
        report.checks.len(),
    );
    if let Some(image) = &report.app_image {
        markdown.push_str(&format!(
            "App image: `{}` (`{}`).\n\n",
            image.reference, image.id
        ));
    }
    markdown.push_str("| check | result | duration | message |\n| --- | --- | ---: | --- |\n");
    for check in &report.checks {
        markdown.push_str(&format!(
            "| `{}` | {} | {:.2} s | {} |\n",
            check.name,
            label(check.status),
            check.duration_ms as f64 / 1000.0,
            cell(&check.message),
        ));
    }

    for check in report
        .checks
        .iter()
        .filter(|check| matches!(check.status, Status::Fail | Status::Error))
        .filter(|check| !check.findings.is_empty())
    {
        markdown.push_str(&format!(
            "\n<details><summary>{} of <code>{}</code></summary>\n\n",
            match check.findings.len() {
                1 => "1 finding".to_owned(),
                n => format!("{n} findings"),
            },
            check.name
        ));
        for finding in &check.findings {
            markdown.push_str(&format!("- {}\n", cell(finding)));
        }
        markdown.push_str("\n</details>\n");
    }
    redact(&markdown)
}

fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "**FAIL**",
        Status::Error => "**ERROR**",
        Status::Skip => "skip",
    }
}

/// Puts text on one line and escapes what would end a table cell or start markup.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn summary_states_verdict() {
        let markdown = render(&sample_report());

        assert!(
            markdown.starts_with("## harness validate FAILED"),
            "{markdown}"
        );
        assert!(markdown.contains("1 of 2 checks passed"), "{markdown}");
    }

    #[test]
    fn summary_names_app_image() {
        let markdown = render(&sample_report());

        assert!(
            markdown.contains("App image: `localizevideos/app:3f2a9c1d0b7e` (`sha256:abab"),
            "the summary should name the app image and its id:\n{markdown}"
        );
    }

    #[test]
    fn summary_has_row_per_check() {
        let markdown = render(&sample_report());

        assert!(
            markdown.contains("| `migrations.replay` | pass | 1.23 s |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `crud.smoke` | **FAIL** |"),
            "{markdown}"
        );
    }

    #[test]
    fn summary_lists_findings() {
        let markdown = render(&sample_report());

        assert!(
            markdown.contains("2 findings of <code>crud.smoke</code>"),
            "{markdown}"
        );
        assert!(markdown.contains("- PATCH ignored title\n"), "{markdown}");
    }

    #[test]
    fn summary_is_redacted() {
        let markdown = render(&sample_report());

        assert!(!markdown.contains("hunter2x"), "{markdown}");
    }

    #[test]
    fn cell_escapes_pipes_and_newlines() {
        assert_eq!(cell("a | b\nc <d>"), "a \\| b c &lt;d&gt;");
    }
}
