//! Usage and configuration errors of `harness validate`, `harness gc` and `harness bench db`:
//! each exits with 2 and names what is wrong before anything starts. None of these needs Docker.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the harness with `args` and extra environment, and returns its output.
fn harness(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command.args(args);
    // A usage error must stop the command before it looks for Docker. The unreachable address
    // makes a run that got that far fail instead of starting containers.
    command.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("harness should start")
}

/// Asserts exit status 2 and that stderr contains each of `expected`.
fn assert_usage_error(output: &Output, case: &str, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{case}: expected exit 2, stderr:\n{stderr}"
    );
    for text in expected {
        assert!(
            stderr.contains(text),
            "{case}: stderr lacks {text:?}:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("Docker is not reachable"),
        "{case}: the command should stop before it connects to Docker:\n{stderr}"
    );
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("harness-usage-{name}-{}", std::process::id()))
}

#[test]
fn empty_only_is_rejected() {
    let cases: &[&[&str]] = &[
        &["validate", "--only", ""],
        &["validate", "--only="],
        &["validate", "--only", ","],
        &["validate", "--only", "crud.smoke,"],
    ];
    for args in cases {
        let output = harness(args, &[]);
        assert_usage_error(
            &output,
            &format!("{args:?}"),
            &["empty check name", "migrations.replay,migrations.stepwise"],
        );
    }
}

#[test]
fn unknown_only_is_rejected() {
    let output = harness(&["validate", "--only", "crud.smok"], &[]);
    assert_usage_error(
        &output,
        "--only crud.smok",
        &["unknown check name(s) in --only: crud.smok"],
    );
}

#[test]
fn report_path_that_is_a_file_is_rejected() {
    let file = temp_path("report-file");
    std::fs::write(&file, b"not a folder").expect("test file should be written");

    let output = harness(&["validate", "--report", &file.display().to_string()], &[]);
    std::fs::remove_file(&file).expect("test file should be removable");

    let path = file.display().to_string();
    assert_usage_error(
        &output,
        "--report FILE",
        &[&path, "is not a folder", "Pass --report with a folder"],
    );
}

#[test]
fn invalid_log_filters_are_rejected() {
    let output = harness(&["validate"], &[("RUST_LOG", "harness=loud")]);
    assert_usage_error(&output, "RUST_LOG", &["invalid RUST_LOG=\"harness=loud\""]);

    let output = harness(&["validate"], &[("HARNESS_APP_RUST_LOG", "app=loud")]);
    assert_usage_error(
        &output,
        "HARNESS_APP_RUST_LOG",
        &["invalid HARNESS_APP_RUST_LOG=\"app=loud\""],
    );
}

#[test]
fn missing_inputs_are_rejected() {
    // A workspace with a Cargo.toml and nothing else.
    let workspace = temp_path("workspace");
    std::fs::create_dir_all(&workspace).expect("test workspace should be created");
    std::fs::write(workspace.join("Cargo.toml"), b"").expect("Cargo.toml should be written");
    let report = workspace.join("report");
    let report_arg = report.display().to_string();
    let workspace_env = workspace.display().to_string();

    let missing_migrations = harness(
        &["validate", "--report", &report_arg],
        &[("HARNESS_WORKSPACE", &workspace_env)],
    );
    let missing_snapshot = harness(
        &["validate", "--report", &report_arg],
        &[("HARNESS_SNAPSHOTS_DIR", &workspace_env)],
    );
    std::fs::remove_dir_all(&workspace).expect("test workspace should be removable");

    let expected = format!(
        "migrations folder {} does not exist",
        workspace.join("migrations").display()
    );
    assert_usage_error(&missing_migrations, "no migrations/", &[&expected]);
    let expected = format!(
        "schema snapshot {} does not exist",
        workspace.join("schema.snap").display()
    );
    assert_usage_error(&missing_snapshot, "no schema.snap", &[&expected]);
}

#[test]
fn invalid_keep_app_images_is_rejected() {
    let output = harness(&["gc"], &[("HARNESS_KEEP_APP_IMAGES", "many")]);
    assert_usage_error(
        &output,
        "HARNESS_KEEP_APP_IMAGES",
        &["invalid HARNESS_KEEP_APP_IMAGES"],
    );
}

#[test]
fn validate_help_lists_exit_statuses() {
    let output = harness(&["validate", "--help"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "--help should succeed");
    for line in ["  0 ", "  1 ", "  2 ", "  130 ", "  143 "] {
        assert!(
            stdout.contains(line),
            "help lacks exit status {line:?}:\n{stdout}"
        );
    }
    assert!(stdout.contains("--report <DIR>"), "{stdout}");
}

#[test]
fn invalid_replay_is_rejected() {
    let cases = ["", "cc 12", "xs 00", "not a seed"];
    for value in cases {
        let output = harness(
            &["validate", "--only", "crud.properties", "--replay", value],
            &[],
        );
        assert_usage_error(
            &output,
            &format!("--replay {value:?}"),
            &[&format!("invalid case seed {value:?}"), "64 hex digits"],
        );
    }
}

#[test]
fn invalid_replay_variable_is_rejected() {
    let output = harness(
        &["validate", "--only", "crud.properties"],
        &[("CRUD_PROPERTIES_REPLAY", "cc 12")],
    );
    assert_usage_error(
        &output,
        "CRUD_PROPERTIES_REPLAY=cc 12",
        &["CRUD_PROPERTIES_REPLAY", "\"cc 12\"", "64 hex digits"],
    );
}

#[test]
fn validate_help_describes_image_pruning() {
    let output = harness(&["validate", "--help"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("only when HARNESS_KEEP_APP_IMAGES is set"),
        "{stdout}"
    );
}

#[test]
fn cases_below_one_are_rejected() {
    for value in ["0", "-1"] {
        let output = harness(
            &["validate", "--only", "crud.properties", "--cases", value],
            &[],
        );
        assert_usage_error(
            &output,
            &format!("--cases {value}"),
            &[&format!("invalid value '{value}' for '--cases <N>'")],
        );
    }
}

#[test]
fn cases_with_replay_are_rejected() {
    let seed = format!("cc {}", "0".repeat(64));
    let output = harness(
        &[
            "validate",
            "--only",
            "crud.properties",
            "--cases",
            "5",
            "--replay",
            &seed,
        ],
        &[],
    );
    assert_usage_error(&output, "--cases with --replay", &["--cases", "--replay"]);
}

#[test]
fn property_flags_need_crud_properties() {
    let output = harness(
        &[
            "validate",
            "--only",
            "crud.smoke",
            "--cases",
            "5",
            "--seed",
            "1",
        ],
        &[],
    );
    assert_usage_error(
        &output,
        "--cases and --seed without crud.properties",
        &["--cases, --seed only apply to crud.properties"],
    );
}

#[test]
fn empty_proptest_cases_counts_as_unset() {
    // The run gets past the options and stops at the unreachable Docker engine.
    let output = harness(
        &["validate", "--only", "crud.properties"],
        &[("PROPTEST_CASES", "")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!stderr.contains("PROPTEST_CASES"), "{stderr}");
}

#[test]
fn misplaced_url_is_redacted() {
    // A connection URL given as a positional argument is one that clap rejects and quotes.
    let output = harness(&["drift", "postgres://app:hunter2secret@db:5432/x"], &[]);

    assert_usage_error(&output, "positional URL", &["unexpected argument"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("hunter2secret"),
        "the error shows the password: {stderr}"
    );
}

#[test]
fn invalid_compare_postgres_image_is_rejected() {
    let cases: &[&str] = &["", "postgres@sha256:0123", "localizevideos/postgres:"];
    for image in cases {
        let output = harness(&["bench", "db", "--compare-postgres-image", image], &[]);
        assert_usage_error(
            &output,
            &format!("--compare-postgres-image {image:?}"),
            &["invalid --compare-postgres-image", "NAME[:TAG]"],
        );
    }
}
