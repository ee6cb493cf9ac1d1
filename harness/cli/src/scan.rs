//! `harness scan`: scans files for connection strings with a password, password hashes and
//! role-password verifiers, such as the JUnit output after a test run.

use std::path::PathBuf;

use harness::config::Config;
use harness::scan::{Scanner, credential_formats, password_hash_formats};
use scenarios::leak_scan::{scan_files, summarize};

use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_PASS, print_error};

/// Scans `paths` (files or folders; missing ones are skipped with a note), or by default the
/// nextest output, the harness's reports and `snapshots/` of the workspace, and returns the
/// exit status: 1 when something was found.
pub fn scan(paths: Vec<PathBuf>) -> u8 {
    let paths = if paths.is_empty() {
        match Config::from_env() {
            Ok(config) => vec![
                config.workspace.join("target").join("nextest"),
                config.harness_target_dir().join("reports"),
                scenarios::snapshot::snapshots_dir(),
            ],
            Err(error) => {
                print_error(&error.to_string());
                return EXIT_ENVIRONMENT;
            }
        }
    } else {
        for path in paths.iter().filter(|path| !path.exists()) {
            eprintln!("note: {} does not exist; skipped", path.display());
        }
        paths
    };

    let mut formats = credential_formats();
    formats.extend(password_hash_formats());
    let scanner = match Scanner::new(Vec::new(), formats) {
        Ok(scanner) => scanner,
        Err(error) => {
            print_error(&format!("building the scanner failed: {error}"));
            return EXIT_ENVIRONMENT;
        }
    };

    let (findings, files) = match scan_files(&scanner, &paths) {
        Ok(scanned) => scanned,
        Err(message) => {
            print_error(&message);
            return EXIT_ENVIRONMENT;
        }
    };
    if findings.is_empty() {
        println!("no credential or password hash in {files} files");
        return EXIT_PASS;
    }
    for line in summarize(findings) {
        println!("{}", harness::redact::redact(&line));
    }
    EXIT_FAIL
}
