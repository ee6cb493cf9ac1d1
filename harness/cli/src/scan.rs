//! `harness scan`: scans files for connection strings with a password, password hashes and
//! role-password verifiers, such as the JUnit output after a test run.

use std::path::PathBuf;

use harness::config::Config;
use harness::scan::{Scanner, credential_formats, password_hash_formats};
use scenarios::leak_scan::{scan_files, summarize};

use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_PASS, print_error};

/// Scans `paths` (files or folders, following symbolic links), or by default those of the
/// nextest output, the harness's reports and `snapshots/` of the workspace that exist. Returns
/// the exit status: 1 when something was found, 2 when a given path does not exist or a file
/// cannot be read. The findings of the other files are printed either way.
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
        let missing: Vec<String> = paths
            .iter()
            .filter(|path| !path.exists())
            .map(|path| path.display().to_string())
            .collect();
        if !missing.is_empty() {
            print_error(&format!(
                "{} not found; check the path, or leave it out",
                missing.join(", ")
            ));
            return EXIT_ENVIRONMENT;
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

    let scan = scan_files(&scanner, &paths);
    let found = !scan.findings.is_empty();
    for line in summarize(scan.findings) {
        println!("{}", harness::redact::redact(&line));
    }
    for error in &scan.errors {
        print_error(error);
    }
    let files = match scan.files {
        1 => "1 file".to_owned(),
        count => format!("{count} files"),
    };
    if !scan.errors.is_empty() {
        eprintln!(
            "{} could not be read; what is listed above comes from the {files} read",
            match scan.errors.len() {
                1 => "1 file or folder".to_owned(),
                count => format!("{count} files or folders"),
            }
        );
        return EXIT_ENVIRONMENT;
    }
    if found {
        return EXIT_FAIL;
    }
    println!("no credential or password hash in {files}");
    EXIT_PASS
}
