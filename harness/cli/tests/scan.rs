//! `harness scan`: exit status 1 with redacted findings, 0 for clean files, 2 for a path that
//! does not exist, and symbolic links followed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scan(paths: &[&Path]) -> (Output, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("scan")
        .args(paths)
        .output()
        .expect("harness should start");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("harness-scan-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test folder should be created");
    dir
}

#[test]
fn scan_reports_leaks_redacted() {
    let dir = temp_dir("leaks");
    let file = dir.join("log.txt");
    std::fs::write(
        &file,
        "connecting to postgres://app:hunter2secret@db/x\npassword: correct horse battery\n",
    )
    .expect("file should be written");

    let (output, stdout, stderr) = scan(&[&file]);
    std::fs::remove_dir_all(&dir).expect("test folder should be removable");

    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("log.txt, line 1"), "{stdout}");
    assert!(stdout.contains("log.txt, line 2"), "{stdout}");
    for secret in ["hunter2secret", "horse", "battery"] {
        assert!(
            !stdout.contains(secret),
            "the output shows {secret:?}: {stdout}"
        );
    }
}

#[test]
fn scan_of_clean_file_passes() {
    let dir = temp_dir("clean");
    let file = dir.join("report.json");
    std::fs::write(&file, r#"{"message": "password=[redacted]"}"#).expect("file should be written");

    let (output, stdout, stderr) = scan(&[&file]);
    std::fs::remove_dir_all(&dir).expect("test folder should be removable");

    assert_eq!(
        output.status.code(),
        Some(0),
        "expected exit 0:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("in 1 file\n"), "{stdout}");
}

#[test]
fn scan_of_missing_path_is_usage_error() {
    let missing = Path::new("postgres://app:hunter2secret@db/x");

    let (output, stdout, stderr) = scan(&[missing]);

    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2:\n{stdout}{stderr}"
    );
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(
        !stderr.contains("hunter2secret"),
        "the error shows the password: {stderr}"
    );
}

#[test]
fn scan_follows_symbolic_links() {
    let dir = temp_dir("links");
    let target = dir.join("real.txt");
    let link = dir.join("link.txt");
    std::fs::write(&target, "DB_PASSWORD=hunter2secret\n").expect("file should be written");
    std::os::unix::fs::symlink(&target, &link).expect("link should be created");

    let (output, stdout, stderr) = scan(&[&link]);
    std::fs::remove_dir_all(&dir).expect("test folder should be removable");

    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("link.txt, line 1"), "{stdout}");
}
