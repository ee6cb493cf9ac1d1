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

/// Formats a count of app containers for a pass message: "1 app container", "2 app containers".
pub fn app_containers(count: usize) -> String {
    if count == 1 {
        "1 app container".to_owned()
    } else {
        format!("{count} app containers")
    }
}

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

/// Findings and read errors of [`scan_files`].
#[derive(Debug, Default)]
pub struct FileScan {
    /// Findings of every file that could be read.
    pub findings: Vec<Finding>,
    /// Number of files scanned to their end.
    pub files: usize,
    /// One message per file or folder that could not be read. Its findings are lost, so a
    /// caller reports these as errors, not as a clean result.
    pub errors: Vec<String>,
}

/// Scans every file under each of `roots` (a root may also be a file; a missing root is
/// skipped), to its end, following symbolic links. A file or folder that cannot be read is
/// recorded in [`FileScan::errors`] and the scan goes on.
pub fn scan_files(scanner: &Scanner, roots: &[PathBuf]) -> FileScan {
    let mut scan = FileScan::default();
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    for root in roots {
        collect_files(root, &mut files, &mut visited, &mut scan.errors);
    }
    files.sort();
    files.dedup();

    for file in &files {
        let found = std::fs::File::open(file)
            .and_then(|opened| scanner.scan_reader(file.display().to_string(), opened));
        match found {
            Ok(found) => {
                scan.findings.extend(found);
                scan.files += 1;
            }
            Err(error) => scan
                .errors
                .push(format!("reading {} failed: {error}", file.display())),
        }
    }
    scan
}

/// Adds the files at or under `path` to `files`. `visited` contains the canonical paths of the
/// folders already listed, so that a symbolic link back to a parent folder ends the walk.
fn collect_files(
    path: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
    errors: &mut Vec<String>,
) {
    // `metadata` follows symbolic links, so a link to a file or folder is scanned too.
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
        Err(error) => {
            errors.push(format!("reading {} failed: {error}", path.display()));
            return;
        }
    };
    if metadata.is_file() {
        files.push(path.to_owned());
        return;
    }
    if !metadata.is_dir() {
        return;
    }
    match std::fs::canonicalize(path) {
        Ok(canonical) => {
            if !visited.insert(canonical) {
                return;
            }
        }
        Err(error) => {
            errors.push(format!("reading {} failed: {error}", path.display()));
            return;
        }
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(format!("listing {} failed: {error}", path.display()));
            return;
        }
    };
    for entry in entries {
        match entry {
            Ok(entry) => collect_files(&entry.path(), files, visited, errors),
            Err(error) => errors.push(format!("listing {} failed: {error}", path.display())),
        }
    }
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

    #[test]
    fn app_containers_plural() {
        assert_eq!(app_containers(0), "0 app containers");
        assert_eq!(app_containers(1), "1 app container");
        assert_eq!(app_containers(2), "2 app containers");
    }

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

        let scan = scan_files(&scanner(), &[dir.clone(), dir.join("missing")]);
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");

        let findings = scan.findings;
        assert!(scan.errors.is_empty(), "{:?}", scan.errors);
        assert_eq!(scan.files, 2);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].source.ends_with("nested/junit.xml"),
            "{}",
            findings[0]
        );
        assert!(!findings[0].to_string().contains(CANARY));
    }

    #[test]
    fn symbolic_links_are_followed_once() {
        let dir = std::env::temp_dir().join(format!("leak-scan-links-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).expect("test folder should be created");
        std::fs::write(dir.join("real/log.txt"), CANARY).expect("file should be written");
        std::os::unix::fs::symlink(dir.join("real"), dir.join("real/loop"))
            .expect("link should be created");
        std::os::unix::fs::symlink(dir.join("real/log.txt"), dir.join("link.txt"))
            .expect("link should be created");

        let scan = scan_files(&scanner(), &[dir.join("link.txt"), dir.join("real")]);
        std::fs::remove_dir_all(&dir).expect("test folder should be removable");

        assert!(scan.errors.is_empty(), "{:?}", scan.errors);
        assert_eq!(scan.files, 2, "the link and the file it points to");
        assert_eq!(scan.findings.len(), 2, "{:?}", scan.findings);
    }
}
