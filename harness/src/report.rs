//! The run report: `report.json` for machines, `junit.xml` for CI test views, `summary.md` for
//! CI job summaries, and the results table for people. All are redacted before they leave the
//! harness.

mod junit;
mod summary;

pub use junit::JUNIT_FILE;
pub use summary::SUMMARY_FILE;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::check::{CheckResult, Status};
use crate::error::{Error, Result};
use crate::redact::redact;

/// Maximum message length in the table, in characters. report.json has the whole message.
const MAX_TABLE_MESSAGE_CHARS: usize = 200;
/// Text that ends a message cut to [`MAX_TABLE_MESSAGE_CHARS`].
const TRUNCATION_NOTE: &str = "… (cut; report.json has the full message)";

/// File name of the report inside the report folder.
pub const REPORT_FILE: &str = "report.json";

/// Version of the `report.json` layout. It changes when a field is removed or changes meaning;
/// new fields do not change it.
pub const SCHEMA_VERSION: u32 = 1;

/// The app image of a run: the reference it was started by and its id, which stays the same
/// when the tag is later moved to another image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppImage {
    /// Reference, such as `localizevideos/app:3f2a9c1d0b7e` or a candidate's `NAME:TAG`.
    pub reference: String,
    /// Image id, `sha256:` and 64 hex digits.
    pub id: String,
}

/// The report of one `harness validate` run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Layout version of report.json: [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Run id, as in the container labels.
    pub run_id: String,
    /// Start of the run, RFC 3339 UTC.
    pub started_at: DateTime<Utc>,
    /// Wall-clock time of the whole run, in milliseconds.
    pub duration_ms: u64,
    /// The app image the checks ran, or `None` when no selected check started the app.
    pub app_image: Option<AppImage>,
    /// Results in the order the checks ran.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Returns whether every check passed or was skipped (and at least one ran).
    pub fn all_passed(&self) -> bool {
        !self.checks.is_empty()
            && self
                .checks
                .iter()
                .all(|check| matches!(check.status, Status::Pass | Status::Skip))
    }

    /// Writes the redacted report into `dir`, creating it: `report.json`, `junit.xml` and
    /// `summary.md`. Returns the path of `report.json`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let write = |name: &str, text: std::io::Result<String>| {
            let path = dir.join(name);
            let io_error = |action: &str, source| Error::Io {
                action: action.to_owned(),
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(dir)
                .map_err(|e| io_error("creating the report folder for", e))?;
            let text = text.map_err(|e| io_error("serialising", e))?;
            std::fs::write(&path, text).map_err(|e| io_error("writing", e))?;
            Ok::<_, Error>(path)
        };
        let path = write(REPORT_FILE, self.to_json())?;
        write(JUNIT_FILE, Ok(self.to_junit()))?;
        write(SUMMARY_FILE, Ok(self.to_summary()))?;
        Ok(path)
    }

    /// Returns the text of `junit.xml`, redacted.
    pub fn to_junit(&self) -> String {
        junit::render(self)
    }

    /// Returns the text of `summary.md`, redacted.
    pub fn to_summary(&self) -> String {
        summary::render(self)
    }

    /// Returns the text [`Report::write`] writes: the report as pretty JSON, redacted.
    pub fn to_json(&self) -> std::io::Result<String> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        Ok(redact(&json) + "\n")
    }
}

/// A report folder that cannot be created or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report to {path}: {problem}. {remedy}")]
pub struct ReportDirError {
    /// The report folder.
    pub path: PathBuf,
    /// The problem, such as `it exists and is not a folder`.
    pub problem: String,
    /// The fix to suggest.
    pub remedy: &'static str,
}

/// Creates the report folder `dir` if needed and checks that a file can be written in it, so
/// that a run does not start when its report cannot be written. Then removes the results of a
/// previous run in it ([`PREVIOUS_RESULTS`]) and leaves every other file.
pub fn prepare_dir(dir: &Path) -> Result<(), ReportDirError> {
    const REMEDY: &str = "Pass --report with a folder that you can write, or remove what is in \
                          the way";
    let failure = |problem: String| ReportDirError {
        path: dir.to_path_buf(),
        problem,
        remedy: REMEDY,
    };

    if dir.exists() && !dir.is_dir() {
        return Err(failure("it exists and is not a folder".to_owned()));
    }
    if let Some(file) = dir.ancestors().skip(1).find(|path| path.is_file()) {
        return Err(failure(format!(
            "{} is a file, so no folder can be created under it",
            file.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|error| failure(format!("creating the folder failed: {error}")))?;

    // A probe file shows whether the folder is writable (permissions, a read-only file system)
    // before the run starts. Its name cannot clash with report.json.
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|error| failure(format!("writing a file in the folder failed: {error}")))?;
    std::fs::remove_file(&probe).map_err(|error| {
        failure(format!(
            "removing the test file {} failed: {error}",
            probe.display()
        ))
    })?;

    // A reused folder would otherwise show the previous run's verdict, or a bundle of a check
    // that now passes, beside this run's results. Only the names a run writes are removed.
    for name in PREVIOUS_RESULTS {
        let path = dir.join(name);
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => Err(error),
        };
        removed.map_err(|error| {
            failure(format!(
                "removing the previous run's {} failed: {error}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// Files and folders of a previous run that [`prepare_dir`] removes from a reused report folder.
const PREVIOUS_RESULTS: [&str; 4] = [
    REPORT_FILE,
    JUNIT_FILE,
    SUMMARY_FILE,
    crate::repro::REPRO_DIR,
];

/// Renders the results table (check, result, duration, message), then the findings of each
/// failed check, redacted.
pub fn render_table(checks: &[CheckResult]) -> String {
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|check| {
            [
                check.name.clone(),
                status_label(check.status).to_owned(),
                format!("{:.2} s", check.duration_ms as f64 / 1000.0),
                // Redacted before truncation, so that a cut cannot split a secret.
                truncate(&redact(&one_line(&check.message)), MAX_TABLE_MESSAGE_CHARS),
            ]
        })
        .collect();
    let header = ["CHECK", "RESULT", "DURATION", "MESSAGE"].map(str::to_owned);

    let mut widths = header.clone().map(|cell| cell.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut table = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
        table.push_str(line.trim_end());
        table.push('\n');
    }

    for check in checks.iter().filter(|check| check.findings.len() > 1) {
        table.push_str(&format!("\nfindings of {}:\n", check.name));
        for finding in &check.findings {
            table.push_str(&format!("  - {}\n", one_line(finding)));
        }
    }
    redact(&table)
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skip => "skip",
    }
}

/// Cuts `text` to `max_chars` characters and notes that report.json has the rest.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{kept}{TRUNCATION_NOTE}")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A report with one passing check and one failed check whose finding contains a password.
    pub(crate) fn sample_report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            run_id: "20250114-093015-k3x9qa".to_owned(),
            started_at: DateTime::parse_from_rfc3339("2025-01-14T09:30:15Z")
                .expect("valid time")
                .with_timezone(&Utc),
            duration_ms: 4321,
            app_image: Some(AppImage {
                reference: "localizevideos/app:3f2a9c1d0b7e".to_owned(),
                id: format!("sha256:{}", "ab".repeat(32)),
            }),
            checks: sample_checks(),
        }
    }

    fn sample_checks() -> Vec<CheckResult> {
        vec![
            CheckResult::from_findings(
                "migrations.replay",
                Duration::from_millis(1234),
                "4 applied",
                vec![],
            ),
            CheckResult::from_findings(
                "crud.smoke",
                Duration::from_millis(50),
                "unused",
                vec![
                    "PATCH ignored title".to_owned(),
                    "password=hunter2x leaked".to_owned(),
                ],
            ),
        ]
    }

    #[test]
    fn table_lists_each_check_with_status_and_duration() {
        let table = render_table(&sample_checks());
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("CHECK"), "{table}");
        assert!(lines[1].starts_with("migrations.replay  pass"), "{table}");
        assert!(lines[1].contains("1.23 s"), "{table}");
        assert!(lines[2].starts_with("crud.smoke"), "{table}");
        assert!(lines[2].contains("FAIL"), "{table}");
        assert!(table.contains("findings of crud.smoke"), "{table}");
    }

    #[test]
    fn report_json_names_app_image() {
        let json = serde_json::to_value(sample_report()).expect("the report should serialize");

        assert_eq!(
            json["app_image"]["reference"], "localizevideos/app:3f2a9c1d0b7e",
            "report.json should name the app image"
        );
        assert_eq!(
            json["app_image"]["id"],
            format!("sha256:{}", "ab".repeat(32)),
            "report.json should give the app image's id"
        );
    }

    #[test]
    fn table_truncates_long_messages() {
        let long = "x".repeat(500);
        let checks = vec![CheckResult::error("crud.smoke", Duration::ZERO, long)];
        let table = render_table(&checks);
        let row = table.lines().nth(1).expect("table should have a row");
        assert!(row.ends_with(TRUNCATION_NOTE), "{row}");
        assert!(row.contains("report.json"), "{row}");
        assert_eq!(row.matches('x').count(), MAX_TABLE_MESSAGE_CHARS, "{row}");
    }

    #[test]
    fn table_keeps_short_messages() {
        let message = "x".repeat(MAX_TABLE_MESSAGE_CHARS);
        let checks = vec![CheckResult::error("crud.smoke", Duration::ZERO, message)];
        let table = render_table(&checks);
        let row = table.lines().nth(1).expect("table should have a row");
        assert!(!row.contains("report.json"), "{row}");
    }

    fn temp_dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("harness-{name}-{}", std::process::id()))
    }

    #[test]
    fn prepare_dir_creates_missing_folders() {
        let base = temp_dir("report-dir-new");
        let dir = base.join("nested").join("run");

        prepare_dir(&dir).expect("a missing folder should be created");

        assert!(dir.is_dir(), "{} should exist", dir.display());
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("folder should be readable")
            .collect();
        assert!(left.is_empty(), "the write test left files: {left:?}");
        std::fs::remove_dir_all(&base).expect("test folder should be removable");
    }

    #[test]
    fn prepare_dir_removes_previous_results() {
        let dir = temp_dir("report-dir-reused");
        let bundle = dir.join("repro/crud.properties");
        std::fs::create_dir_all(&bundle).expect("test folders should be created");
        std::fs::write(bundle.join("README.md"), b"old").expect("bundle should be written");
        for name in [REPORT_FILE, JUNIT_FILE, SUMMARY_FILE, "notes.txt"] {
            std::fs::write(dir.join(name), b"old").expect("test file should be written");
        }

        prepare_dir(&dir).expect("a reused folder should be prepared");

        for name in [REPORT_FILE, JUNIT_FILE, SUMMARY_FILE, "repro"] {
            assert!(!dir.join(name).exists(), "{name} should be removed");
        }
        assert!(
            dir.join("notes.txt").is_file(),
            "a file the run does not write should stay"
        );
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");
    }

    #[test]
    fn prepare_dir_rejects_a_file() {
        let file = temp_dir("report-dir-file");
        std::fs::write(&file, b"not a folder").expect("test file should be written");

        let error = prepare_dir(&file).expect_err("a file should be rejected");
        std::fs::remove_file(&file).expect("test file should be removable");

        let message = error.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("is not a folder"), "{message}");
        assert!(message.contains("--report"), "{message}");
    }

    #[test]
    fn prepare_dir_rejects_an_unwritable_folder() {
        // procfs accepts no new files, even from root, which no permission check stops.
        let dir = Path::new("/proc/self");

        let error =
            prepare_dir(dir).expect_err("a folder without room for files should be rejected");

        let message = error.to_string();
        assert!(
            message.contains("writing a file in the folder failed"),
            "{message}"
        );
    }

    #[test]
    fn prepare_dir_rejects_a_file_in_the_path() {
        let file = temp_dir("report-dir-parent");
        std::fs::write(&file, b"not a folder").expect("test file should be written");
        let dir = file.join("reports");

        let error = prepare_dir(&dir).expect_err("a folder under a file should be rejected");
        std::fs::remove_file(&file).expect("test file should be removable");

        let message = error.to_string();
        assert!(message.contains(&dir.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("{} is a file", file.display())),
            "{message}"
        );
    }

    #[test]
    fn table_is_redacted() {
        let table = render_table(&sample_checks());
        assert!(!table.contains("hunter2x"), "{table}");
        assert!(table.contains("password=[redacted]"), "{table}");
    }

    #[test]
    fn report_json_has_the_documented_fields() {
        let report = sample_report();
        let dir = std::env::temp_dir().join(format!("harness-report-test-{}", std::process::id()));
        let path = report.write(&dir).expect("report should be written");
        let text = std::fs::read_to_string(&path).expect("report should be readable");
        let junit = std::fs::read_to_string(dir.join(JUNIT_FILE)).expect("junit.xml written");
        let summary = std::fs::read_to_string(dir.join(SUMMARY_FILE)).expect("summary written");
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");

        let json: serde_json::Value = serde_json::from_str(&text).expect("report should be JSON");
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["run_id"], "20250114-093015-k3x9qa");
        assert_eq!(json["started_at"], "2025-01-14T09:30:15Z");
        assert_eq!(json["duration_ms"], 4321);
        assert_eq!(json["checks"][0]["name"], "migrations.replay");
        assert_eq!(json["checks"][1]["status"], "fail");
        assert!(
            !text.contains("hunter2x"),
            "report should be redacted: {text}"
        );
        assert!(junit.contains("<testcase name=\"crud.smoke\""), "{junit}");
        assert!(summary.contains("| `crud.smoke` |"), "{summary}");
        assert!(!report.all_passed());
    }
}
