//! `harness validate --app-image`: a prebuilt candidate image is validated as it is, and a
//! missing one is an environment error whose message explains how to load it.

use std::process::{Command, Output};

use harness::app_image;
use harness::cleanup::{self, CLEANUP_TIMEOUT};
use harness::config::Config;
use harness::labels::{self, RunId};
use harness::owner::Owner;
use testcontainers::bollard::query_parameters::{RemoveImageOptions, TagImageOptionsBuilder};

/// Repository of the candidate tags this test creates and removes.
const CANDIDATE_REPOSITORY: &str = "localizevideos-candidate";

fn validate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("validate")
        .args(args)
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .env_remove("HARNESS_APP_IMAGE")
        .output()
        .expect("harness should start")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn missing_candidate_is_environment_error() {
    let image = format!("{CANDIDATE_REPOSITORY}:missing-{}", std::process::id());

    let output = validate(&["--only", "crud.smoke", "--app-image", &image]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&image),
        "the error should name the image: {stderr}"
    );
    assert!(
        stderr.contains("docker load") || stderr.contains("docker pull"),
        "the error should say how to load the image: {stderr}"
    );
}

#[test]
fn invalid_candidate_reference_is_usage_error() {
    let output = validate(&["--app-image", "Not A Reference"]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("not a valid image reference"),
        "the error should say what is wrong: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidate_image_is_validated() {
    // The bundled app's image, retagged as a candidate from elsewhere would be.
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable");
    let config = Config::from_env().expect("default settings should load");
    let id = RunId::generate();
    let labels = labels::run_labels(&id, &Owner::current());
    let bundled = app_image::ensure_app_image(&docker, &config, &[], &labels)
        .await
        .expect("the bundled app image should build");
    cleanup::remove_run(&docker, &id, CLEANUP_TIMEOUT)
        .await
        .expect("the image's pin container should be removed");
    let tag = id.to_string();
    let options = TagImageOptionsBuilder::default()
        .repo(CANDIDATE_REPOSITORY)
        .tag(&tag)
        .build();
    docker
        .tag_image(&bundled.to_string(), Some(options))
        .await
        .expect("the candidate tag should be created");
    let candidate = format!("{CANDIDATE_REPOSITORY}:{tag}");

    let output = tokio::task::spawn_blocking({
        let candidate = candidate.clone();
        move || validate(&["--only", "crud.smoke", "--app-image", &candidate])
    })
    .await
    .expect("the harness process should be waited for");
    let removed = docker
        .remove_image(
            &candidate,
            Some(RemoveImageOptions {
                noprune: true,
                ..Default::default()
            }),
            None,
        )
        .await;

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "expected exit 0\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("crud.smoke") && stdout.contains("pass"),
        "crud.smoke should pass on the candidate: {stdout}"
    );
    assert!(
        stderr.contains(&candidate) || stdout.contains(&candidate),
        "the output should name the candidate image: {stdout}{stderr}"
    );
    assert!(
        !stderr.contains("cargo build"),
        "nothing should be compiled for a candidate: {stderr}"
    );
    removed.expect("the candidate tag should be removable");
}

/// An image whose command exits at once: the runtime base image, whose command is `/bin/bash`,
/// which ends when it reads no input.
const EXITING_IMAGE: &str = "localizevideos/runtime:bookworm";

#[test]
fn exiting_candidate_is_check_error() {
    let report_dir = std::env::temp_dir().join(format!("exiting-candidate-{}", RunId::generate()));
    let report_arg = report_dir
        .to_str()
        .expect("the temporary folder should be UTF-8");

    let output = validate(&[
        "--only",
        "restarts.app_crash",
        "--app-image",
        EXITING_IMAGE,
        "--report",
        report_arg,
    ]);

    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an app that does not become ready should be exit 1\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report = std::fs::read_to_string(report_dir.join("report.json")).unwrap_or_else(|error| {
        panic!("report.json should be written: {error}\nstderr:\n{stderr}")
    });
    let report: serde_json::Value =
        serde_json::from_str(&report).expect("report.json should be JSON");
    let check = report["checks"]
        .as_array()
        .expect("report.json should list the checks")
        .iter()
        .find(|check| check["name"] == "restarts.app_crash")
        .unwrap_or_else(|| panic!("report.json should have restarts.app_crash: {report}"));
    assert_eq!(check["status"], "error", "{check}");
    let message = check["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the app did not start"),
        "the message should give the app's failure: {message}"
    );
    let logs = report_dir
        .join("repro")
        .join("restarts.app_crash")
        .join("logs");
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap_or_else(|error| panic!("the bundle should have {}: {error}", logs.display()))
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|name| name.starts_with("lv-app-")),
        "the bundle should hold the app log: {names:?}"
    );
    std::fs::remove_dir_all(&report_dir).ok();
}
