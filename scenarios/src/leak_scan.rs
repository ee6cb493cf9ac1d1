//! The sources the leak checks scan (responses, container logs, files) and the summary of their
//! findings.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use harness::http::RecordedResponse;
use harness::logs::ContainerLogs;
use harness::scan::{Finding, Location, Scanner};

/// Maximum number of findings a check reports. The rest are counted in the last one.
const MAX_REPORTED: usize = 40;

/// Number of bytes scanned per file. A larger file is scanned up to this size only. Report and
/// snapshot files are far smaller.
const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;

/// Scans each response body: a JSON body by field path, any other body by line and column.
pub fn scan_responses(scanner: &Scanner, responses: &[Arc<RecordedResponse>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for response in responses {
        let source = format!("{} body", response.describe());
        match serde_json::from_str::<serde_json::Value>(&response.body) {
            Ok(json) => findings.extend(scanner.scan_json(source, &json)),
            Err(_) => findings.extend(scanner.scan_text(source, &response.body)),
        }
    }
    findings
}

/// Scans the stdout and stderr of each container, by line and column.
pub fn scan_container_logs(scanner: &Scanner, logs: &[ContainerLogs]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for log in logs {
        let source = |output: &str| format!("container {} {output}", log.container);
        findings.extend(scanner.scan_bytes(source("stdout"), &log.stdout));
        findings.extend(scanner.scan_bytes(source("stderr"), &log.stderr));
    }
    findings
}

/// Scans every regular file under each of `roots` (a root may also be a file; a missing root
/// is skipped). Returns the findings and the number of files scanned.
pub fn scan_files(scanner: &Scanner, roots: &[PathBuf]) -> Result<(Vec<Finding>, usize), String> {
    let mut files = Vec::new();
    for root in roots {
        collect_files(root, &mut files)?;
    }
    files.sort();

    let mut findings = Vec::new();
    for file in &files {
        let opened = std::fs::File::open(file)
            .map_err(|error| format!("opening {} failed: {error}", file.display()))?;
        let reader = std::io::Read::take(opened, MAX_FILE_LEN);
        let found = scanner
            .scan_reader(file.display().to_string(), reader)
            .map_err(|error| format!("reading {} failed: {error}", file.display()))?;
        findings.extend(found);
    }
    Ok((findings, files.len()))
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(format!("reading {} failed: {error}", path.display())),
    };
    if metadata.is_file() {
        files.push(path.to_owned());
    } else if metadata.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|error| format!("listing {} failed: {error}", path.display()))?;
        for entry in entries {
            let entry =
                entry.map_err(|error| format!("listing {} failed: {error}", path.display()))?;
            collect_files(&entry.path(), files)?;
        }
    }
    Ok(())
}

/// Turns findings into report lines: the first finding of each source and label, with the
/// number of further matches of that label in that source, at most 40 lines. A format's match
/// at the place of a canary's exact match is left out, because the canary's label is more
/// precise.
pub fn summarize(findings: Vec<Finding>) -> Vec<String> {
    let exact_places: HashSet<(String, Location)> = findings
        .iter()
        .filter(|finding| finding.exact)
        .map(|finding| (finding.source.clone(), finding.location.clone()))
        .collect();
    let findings = findings.into_iter().filter(|finding| {
        finding.exact || !exact_places.contains(&(finding.source.clone(), finding.location.clone()))
    });

    let mut groups: BTreeMap<(String, String), (usize, Finding, usize)> = BTreeMap::new();
    for (order, finding) in findings.enumerate() {
        let key = (finding.source.clone(), finding.label.clone());
        groups
            .entry(key)
            .and_modify(|(_, _, more)| *more += 1)
            .or_insert((order, finding, 0));
    }

    let mut first_findings: Vec<(usize, Finding, usize)> = groups.into_values().collect();
    first_findings.sort_by_key(|(order, _, _)| *order);
    let total = first_findings.len();

    let mut lines: Vec<String> = first_findings
        .into_iter()
        .take(MAX_REPORTED)
        .map(|(_, finding, more)| match more {
            0 => finding.to_string(),
            more => format!("{finding} (and {more} more in this source)"),
        })
        .collect();
    if total > MAX_REPORTED {
        lines.push(format!(
            "{} more sources or labels with findings are not listed",
            total - MAX_REPORTED
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use harness::scan::{Canary, credential_formats};
    use harness::secret::Secret;

    use super::*;

    const CANARY: &str = "Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe";

    fn scanner() -> Scanner {
        let canary = Canary::new("password of role lv_app", Secret::new(CANARY));
        Scanner::new(vec![canary], credential_formats()).expect("scanner should build")
    }

    #[test]
    fn summary_groups_by_source_and_label() {
        let text = format!("{CANARY}\nok\n{CANARY}\n{CANARY}\n");
        let mut findings = scanner().scan_text("app stdout", &text);
        findings.extend(scanner().scan_text("postgres stderr", CANARY));

        let lines = summarize(findings);

        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("app stdout, line 1, column 1: password of role lv_app"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("(and 2 more in this source)"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("postgres stderr, line 1"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn files_under_a_folder_are_scanned() {
        let dir = std::env::temp_dir().join(format!("leak-scan-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nested")).expect("test folder should be created");
        std::fs::write(dir.join("clean.json"), "{}").expect("file should be written");
        std::fs::write(dir.join("nested/junit.xml"), format!("<x>\n{CANARY}</x>"))
            .expect("file should be written");

        let result = scan_files(&scanner(), &[dir.clone(), dir.join("missing")]);
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");

        let (findings, files) = result.expect("scan should succeed");
        assert_eq!(files, 2);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].source.ends_with("nested/junit.xml"),
            "{}",
            findings[0]
        );
        assert!(!findings[0].to_string().contains(CANARY));
    }
}
