//! The harness configuration file as the `harness` command reads it: errors exit with 2 and
//! name the key, the file and the line, and `validate --print-config` shows which layer each
//! effective value comes from. None of these needs Docker.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Variables that would override the files these tests write, removed from every run.
const OVERRIDING_VARIABLES: &[&str] = &[
    "HARNESS_CONFIG",
    "HARNESS_WORKSPACE",
    "HARNESS_POSTGRES_IMAGE",
    "HARNESS_APP_IMAGE",
    "HARNESS_APP_READY_TIMEOUT_SECS",
    "HARNESS_POSTGRES_READY_TIMEOUT_SECS",
    "HARNESS_RECOVERY_BOUND_MS",
    "HARNESS_FAULT_SEED",
    "PROPTEST_CASES",
    "PROPTEST_RNG_SEED",
];

/// Runs the harness with `args` and extra environment, and returns its output.
fn harness(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command.args(args);
    for name in OVERRIDING_VARIABLES {
        command.env_remove(name);
    }
    // The unreachable address makes a run that gets past the settings fail instead of
    // starting containers.
    command.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("harness should start")
}

/// A folder of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("harness-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("test folder should be creatable");
        Self(path)
    }

    /// Writes `text` to `name` in the folder and returns its path as a string.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("test folder should be creatable");
        }
        std::fs::write(&path, text).expect("test file should be writable");
        path.to_string_lossy().into_owned()
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the `--print-config` line of `key` in table `table`.
fn printed_line(output: &Output, table: &str, key: &str) -> String {
    let text = stdout(output);
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = name;
        } else if current == table && line.starts_with(&format!("{key} = ")) {
            return line.to_owned();
        }
    }
    panic!(
        "--print-config shows no {table}.{key}:\n{text}\nstderr:\n{}",
        stderr(output)
    );
}

/// Asserts exit status 2 and that stderr contains each of `expected`.
fn assert_config_error(output: &Output, case: &str, expected: &[&str]) {
    let stderr = stderr(output);
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

#[test]
fn unknown_config_key_exits_2() {
    let dir = TempDir::new("unknown-key");
    let file = dir.write(
        "harness.toml",
        "[timeouts]\napp_ready_secs = 30\npostgres_ready = 5\n",
    );

    // Every subcommand reads the file, so each one rejects it. doctor reports it among its
    // problems, which the next test checks.
    let cases: &[&[&str]] = &[
        &["validate", "--config", &file, "--print-config"],
        &["--config", &file, "validate", "--only", "migrations.lint"],
        &["--config", &file, "gc"],
    ];
    for args in cases {
        let output = harness(args, &[]);
        assert_config_error(
            &output,
            &format!("{args:?}"),
            &[
                "unknown key `timeouts.postgres_ready`",
                &file,
                "line 3",
                "timeouts.postgres_ready_secs",
            ],
        );
    }
}

#[test]
fn doctor_lists_config_error() {
    let dir = TempDir::new("doctor-unknown-key");
    let file = dir.write(
        "harness.toml",
        "[timeouts]\napp_ready_secs = 30\npostgres_ready = 5\n",
    );

    let output = harness(&["--config", &file, "doctor"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert_eq!(
        output.status.code(),
        Some(2),
        "doctor should exit 2 on an invalid file:\n{stdout}"
    );
    let settings_line = stdout
        .lines()
        .find(|line| line.starts_with("PROBLEM  settings:"))
        .unwrap_or_else(|| panic!("no PROBLEM line for the settings:\n{stdout}"));
    for text in ["unknown key `timeouts.postgres_ready`", &file, "line 3"] {
        assert!(
            settings_line.contains(text),
            "the settings line lacks {text:?}: {settings_line}"
        );
    }
    assert!(
        stdout.contains("docker:"),
        "doctor should go on with its other checks:\n{stdout}"
    );
}

#[test]
fn invalid_config_value_exits_2() {
    let dir = TempDir::new("invalid-value");
    let file = dir.write(
        "harness.toml",
        "# comment\n[timeouts]\npostgres_ready_secs = 0\n",
    );

    let output = harness(
        &["validate", "--print-config"],
        &[("HARNESS_CONFIG", &file)],
    );

    assert_config_error(
        &output,
        "postgres_ready_secs = 0",
        &[
            "timeouts.postgres_ready_secs = 0",
            &file,
            "line 3",
            "an integer from 1 to 3600",
        ],
    );
}

#[test]
fn missing_config_file_exits_2() {
    let dir = TempDir::new("missing");
    let missing = dir.path().join("absent.toml");
    let missing = missing.to_string_lossy();

    let from_flag = harness(&["validate", "--config", &missing, "--print-config"], &[]);
    let from_variable = harness(
        &["validate", "--print-config"],
        &[("HARNESS_CONFIG", &missing)],
    );

    assert_config_error(&from_flag, "--config", &[&missing, "not found", "--config"]);
    assert_config_error(
        &from_variable,
        "HARNESS_CONFIG",
        &[&missing, "not found", "HARNESS_CONFIG"],
    );
}

#[test]
fn env_overrides_config_file() {
    let dir = TempDir::new("env-over-file");
    let file = dir.write(
        "harness.toml",
        "[images]\npostgres = \"postgres:16-alpine\"\n[timeouts]\napp_ready_secs = 45\n",
    );

    let output = harness(
        &["validate", "--config", &file, "--print-config"],
        &[("HARNESS_APP_READY_TIMEOUT_SECS", "90")],
    );

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(
        printed_line(&output, "timeouts", "app_ready_secs"),
        "app_ready_secs = 90  # variable HARNESS_APP_READY_TIMEOUT_SECS"
    );
    assert_eq!(
        printed_line(&output, "images", "postgres"),
        format!("postgres = \"postgres:16-alpine\"  # {file} line 2")
    );
}

#[test]
fn flag_overrides_env_and_config() {
    let dir = TempDir::new("flag-over-env");
    let file = dir.write(
        "harness.toml",
        "[images]\napp = \"localizevideos/app:file\"\n[checks]\nskip = [\"chaos.latency\"]\n",
    );

    let output = harness(
        &[
            "validate",
            "--config",
            &file,
            "--app-image",
            "localizevideos/app:flag",
            "--only",
            "crud.properties",
            "--cases",
            "3",
            "--print-config",
        ],
        &[
            ("HARNESS_APP_IMAGE", "localizevideos/app:env"),
            ("PROPTEST_CASES", "100"),
        ],
    );

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(
        printed_line(&output, "images", "app"),
        "app = \"localizevideos/app:flag\"  # flag --app-image"
    );
    assert_eq!(
        printed_line(&output, "crud_properties", "cases"),
        "cases = 3  # flag --cases"
    );
    assert_eq!(
        printed_line(&output, "checks", "only"),
        "only = [\"crud.properties\"]  # flag --only"
    );
}

#[test]
fn release_preset_config() {
    let dir = TempDir::new("preset");
    let dev_file = dir.write(
        "dev.toml",
        "[crud_properties]\ncases = 8\n[checks]\nonly = [\"crud.smoke\"]\n",
    );
    let release_file = dir.write("release.toml", "preset = \"release\"\n");
    let every_check: Vec<String> = [
        "migrations.replay",
        "migrations.stepwise",
        "migrations.tamper",
        "migrations.lint",
        "migrations.roundtrip",
        "crud.smoke",
        "crud.properties",
        "access.least_privilege",
        "errors.sanitized",
        "rotation.update_env",
        "rotation.stale_env",
        "rotation.alternating_users",
        "rotation.expiry",
        "leaks.password_hash",
        "leaks.credentials",
        "restarts.app_graceful",
        "restarts.app_crash",
        "restarts.postgres_fast",
        "chaos.postgres_crash",
        "chaos.partition",
        "chaos.pause",
        "chaos.latency",
        "access.isolation",
    ]
    .iter()
    .map(|name| format!("\"{name}\""))
    .collect();
    let every_check = format!("only = [{}]  # preset release", every_check.join(", "));

    // The flag raises the counts of a file tuned for quick runs and runs every check.
    let from_flag = harness(
        &[
            "validate",
            "--config",
            &dev_file,
            "--preset",
            "release",
            "--print-config",
        ],
        &[],
    );
    assert_eq!(
        from_flag.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&from_flag)
    );
    assert_eq!(
        printed_line(&from_flag, "crud_properties", "cases"),
        "cases = 512  # preset release"
    );
    assert_eq!(printed_line(&from_flag, "checks", "only"), every_check);
    assert!(
        stdout(&from_flag).contains("preset = \"release\"  # flag --preset"),
        "{}",
        stdout(&from_flag)
    );

    // The file's preset key does the same.
    let from_file = harness(
        &["validate", "--config", &release_file, "--print-config"],
        &[],
    );
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&from_file)
    );
    assert_eq!(
        printed_line(&from_file, "crud_properties", "cases"),
        "cases = 512  # preset release"
    );
    assert!(
        stdout(&from_file).contains(&format!("preset = \"release\"  # {release_file} line 1")),
        "{}",
        stdout(&from_file)
    );

    // A flag overrides the preset. The empty workspace has no configuration file.
    dir.write("Cargo.toml", "[workspace]\n");
    let with_cases = harness(
        &[
            "validate",
            "--preset",
            "release",
            "--cases",
            "20",
            "--print-config",
        ],
        &[("HARNESS_WORKSPACE", &dir.path().to_string_lossy())],
    );
    assert_eq!(
        with_cases.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&with_cases)
    );
    assert_eq!(
        printed_line(&with_cases, "crud_properties", "cases"),
        "cases = 20  # flag --cases"
    );
}

#[test]
fn unknown_config_preset_exits_2() {
    let output = harness(&["validate", "--preset", "fast", "--print-config"], &[]);

    assert_config_error(
        &output,
        "--preset fast",
        &["unknown preset `fast`", "default, release"],
    );
}

#[test]
fn workspace_config_file_is_default() {
    let workspace = TempDir::new("workspace");
    workspace.write("Cargo.toml", "[workspace]\n");
    let file = workspace.write(".config/harness.toml", "[faults]\nseed = 7\n");
    let other = workspace.write("other.toml", "[faults]\nseed = 9\n");
    let root = workspace.path().to_string_lossy().into_owned();

    let by_default = harness(
        &["validate", "--print-config"],
        &[("HARNESS_WORKSPACE", &root)],
    );
    let by_variable = harness(
        &["validate", "--print-config"],
        &[("HARNESS_WORKSPACE", &root), ("HARNESS_CONFIG", &other)],
    );

    assert_eq!(
        by_default.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&by_default)
    );
    assert_eq!(
        printed_line(&by_default, "faults", "seed"),
        format!("seed = 7  # {file} line 2")
    );
    assert_eq!(
        printed_line(&by_variable, "faults", "seed"),
        format!("seed = 9  # {other} line 2")
    );
}

#[test]
fn config_report_dir_reaches_validate() {
    // validate creates the report folder before it connects to Docker, so the folder shows
    // that the file's value reached the run.
    let workspace = TempDir::new("report-dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = workspace.path().join("reports-from-file");
    let file = workspace.write(
        "harness.toml",
        &format!("[report]\ndir = {:?}\n", report.to_string_lossy()),
    );

    let output = harness(
        &["validate", "--config", &file, "--only", "migrations.lint"],
        &[("HARNESS_WORKSPACE", &source.to_string_lossy())],
    );

    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr:\n{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("Docker is not reachable"),
        "{}",
        stderr(&output)
    );
    assert!(
        report.is_dir(),
        "{} should have been created",
        report.display()
    );
}
