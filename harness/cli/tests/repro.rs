//! `harness validate` on a failure: the repro bundle, `--keep` with `harness gc --run`, and the
//! plain log lines written when stderr is not a terminal.
//!
//! The failure is real. The candidate image is the app built with the `failpoints` feature, with
//! FAILPOINTS set in the image. The app then ignores a video's new title, so crud.smoke fails,
//! and logs its connection string with the password, which the bundle's logs must redact.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::app_image;
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::config::Config;
use harness::labels::{self, RunId};
use harness::owner::Owner;
use harness::scan::{Canary, Scanner, credential_formats};
use harness::secret::Secret;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    BuildImageOptions, ListContainersOptions, RemoveImageOptions,
};

/// Repository of the faulty candidate images this test builds and removes.
const FAULTY_REPOSITORY: &str = "localizevideos-faulty";

/// Fail points baked into the candidate image.
const FAILPOINTS: &str = "video.update.ignore_title=return;startup.log_connection_string=return";

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .env_remove("HARNESS_APP_IMAGE")
        .env_remove("RUST_LOG")
        .output()
        .expect("harness should start")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Builds the faulty candidate image: the failpoints build of the app with FAILPOINTS set.
async fn build_faulty_image(docker: &Docker, tag: &str) -> String {
    let config = Config::from_env().expect("default settings should load");
    let id = RunId::generate();
    let labels = labels::run_labels(&id, &Owner::current());
    let base = app_image::ensure_app_image(docker, &config, &["failpoints".to_owned()], &labels)
        .await
        .expect("the failpoints app image should build");
    cleanup::remove_run(docker, &id, CLEANUP_TIMEOUT)
        .await
        .expect("the image's pin container should be removed");

    let dockerfile = format!("FROM {base}\nENV FAILPOINTS=\"{FAILPOINTS}\"\n");
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .expect("the Dockerfile should be added");
    let context = archive
        .into_inner()
        .expect("the build context should be complete");

    let image = format!("{FAULTY_REPOSITORY}:{tag}");
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_owned(),
        t: Some(image.clone()),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let mut stream = docker.build_image(
        options,
        None,
        Some(testcontainers::bollard::body_full(context.into())),
    );
    use futures::StreamExt;
    while let Some(item) = stream.next().await {
        let info = item.expect("the faulty image build should run");
        if let Some(detail) = info.error_detail {
            panic!("the faulty image build failed: {:?}", detail.message);
        }
    }
    image
}

/// Returns the names and states of the containers of `run_id`.
async fn containers_of(docker: &Docker, run_id: &str) -> Vec<(String, String)> {
    let filter = HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={run_id}", labels::RUN_ID)],
    )]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter),
            ..Default::default()
        }))
        .await
        .expect("listing containers should work")
        .into_iter()
        .map(|container| {
            let name = container
                .names
                .and_then(|names| names.first().cloned())
                .unwrap_or_default();
            let state = container
                .state
                .map(|state| state.to_string())
                .unwrap_or_default();
            (name.trim_start_matches('/').to_owned(), state)
        })
        .collect()
}

/// Returns the value of `variable` in the environment of container `name`.
async fn container_env(docker: &Docker, name: &str, variable: &str) -> Option<String> {
    let inspected = docker
        .inspect_container(name, None)
        .await
        .expect("the kept app container should exist");
    let prefix = format!("{variable}=");
    inspected
        .config
        .and_then(|config| config.env)
        .unwrap_or_default()
        .into_iter()
        .find_map(|entry| entry.strip_prefix(&prefix).map(str::to_owned))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the folder should be readable") {
        let path = entry.expect("a folder entry should be readable").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn gc_rejects_invalid_run_id() {
    let output = harness(&["gc", "--run", "Not A Run"]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("invalid run id \"Not A Run\""),
        "the error should name the value: {stderr}"
    );
}

#[test]
fn gc_run_conflicts_with_all() {
    let output = harness(&["gc", "--run", "20260101-000000-abcdef", "--all"]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("--all"),
        "the error should name the flag: {stderr}"
    );
}

#[test]
fn plain_lines_without_terminal() {
    // The output is a pipe, so no progress line: the info lines of today, without the
    // terminal's line-clearing sequence.
    let output = harness(&["validate", "--only", "migrations.lint"]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "expected exit 0\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("check started"),
        "stderr should have the plain log lines: {stderr}"
    );
    assert!(
        !stderr.contains("\x1b[2K"),
        "stderr should have no progress line: {stderr:?}"
    );
    assert!(
        !stdout.contains("repro bundle"),
        "a passing run should write no bundle: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_leaves_failed_run() {
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    let tag = RunId::generate().to_string();
    let image = build_faulty_image(&docker, &tag).await;
    let report_dir = std::env::temp_dir().join(format!("repro-keep-{tag}"));

    let output = tokio::task::spawn_blocking({
        let image = image.clone();
        let report_dir = report_dir.display().to_string();
        move || {
            harness(&[
                "validate",
                "--only",
                "crud.smoke",
                "--app-image",
                &image,
                "--keep",
                "--report",
                &report_dir,
            ])
        }
    })
    .await
    .expect("the harness process should be waited for");
    let (stdout, stderr) = text(&output);
    let run_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("run "))
        .unwrap_or_else(|| {
            panic!("stdout should name the run\nstdout:\n{stdout}\nstderr:\n{stderr}")
        })
        .trim()
        .to_owned();

    // Read what the kept run contains before removing it, and assert afterwards, so that a
    // failed assertion leaves nothing running.
    let kept = containers_of(&docker, &run_id).await;
    let app_container = format!("lv-app-{run_id}");
    let password = match kept.iter().any(|(name, _)| *name == app_container) {
        true => container_env(&docker, &app_container, "DB_PASSWORD").await,
        false => None,
    };
    let gc = harness(&["gc", "--run", &run_id]);
    let left = containers_of(&docker, &run_id).await;
    let removed_image = docker
        .remove_image(&image, Some(RemoveImageOptions::default()), None)
        .await;

    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1 (crud.smoke fails)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for (name, state) in [
        (format!("lv-pg-{run_id}"), "running"),
        (app_container.clone(), "running"),
    ] {
        assert!(
            kept.iter()
                .any(|(kept_name, kept_state)| *kept_name == name && kept_state == state),
            "{name} should be kept {state}: {kept:?}"
        );
    }
    assert!(
        stdout.contains(&format!("cargo run -p harness-cli -- gc --run {run_id}")),
        "stdout should say how to remove the run: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{app_container} | grep '^DB_PASSWORD' | cut -d= -f2-"
        )),
        "stdout should give the psql line: {stdout}"
    );
    assert!(
        stdout.contains("app:      http://127.0.0.1:"),
        "stdout should give the app URL: {stdout}"
    );

    let bundle = report_dir.join("repro").join("crud.smoke");
    assert!(
        stdout.contains(&format!("repro bundle of crud.smoke: {}", bundle.display())),
        "stdout should name the bundle: {stdout}"
    );
    let replay = std::fs::read_to_string(bundle.join("replay.sh"))
        .expect("replay.sh should be in the bundle");
    assert!(
        replay.contains("validate --only crud.smoke "),
        "replay.sh should replay crud.smoke: {replay}"
    );
    assert!(
        replay.contains(&format!(" --app-image {image}")),
        "replay.sh should replay on the same image: {replay}"
    );

    let password = password.expect("the kept app container should have DB_PASSWORD");
    let scanner = Scanner::new(
        vec![Canary::new(
            "password of role lv_app",
            Secret::new(password),
        )],
        credential_formats(),
    )
    .expect("the scanner should build");
    let mut findings = scanner.scan_text("stdout", &stdout);
    findings.extend(scanner.scan_text("stderr", &stderr));
    for file in files_under(&report_dir) {
        let bytes = std::fs::read(&file).expect("a report file should be readable");
        findings.extend(scanner.scan_bytes(file.display().to_string(), &bytes));
    }
    assert!(
        findings.is_empty(),
        "the output and the report folder should contain no secret:\n{}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );

    let (gc_stdout, gc_stderr) = text(&gc);
    assert_eq!(
        gc.status.code(),
        Some(0),
        "harness gc --run should succeed\nstdout:\n{gc_stdout}\nstderr:\n{gc_stderr}"
    );
    assert!(
        left.is_empty(),
        "gc --run should remove every container: {left:?}"
    );
    removed_image.expect("the faulty image should be removable");
    std::fs::remove_dir_all(&report_dir).expect("the report folder should be removable");
}
