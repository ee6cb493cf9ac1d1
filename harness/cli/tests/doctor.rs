//! `harness doctor` names each blocking problem with its fix and exits with 2, and exits with 0
//! when nothing blocks a run.

use std::process::{Command, Output};

fn doctor(env: &[(&str, &str)]) -> (Output, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command.arg("doctor");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("harness should start");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

#[test]
fn doctor_passes_on_working_machine() {
    let (output, stdout) = doctor(&[]);

    assert_eq!(output.status.code(), Some(0), "expected exit 0:\n{stdout}");
    assert!(stdout.contains("ok       docker: engine"), "{stdout}");
    assert!(stdout.contains("Postgres image: "), "{stdout}");
    assert!(stdout.contains("nothing blocks a run"), "{stdout}");
}

#[test]
fn doctor_flags_unreachable_docker() {
    // Port 9 (discard) on loopback has no Docker engine.
    let (output, stdout) = doctor(&[("DOCKER_HOST", "tcp://127.0.0.1:9")]);

    assert_eq!(output.status.code(), Some(2), "expected exit 2:\n{stdout}");
    assert!(stdout.contains("PROBLEM  docker:"), "{stdout}");
    assert!(
        stdout.contains("127.0.0.1:9"),
        "the line should name the address: {stdout}"
    );
}

#[test]
fn doctor_flags_invalid_setting() {
    let (output, stdout) = doctor(&[("HARNESS_POSTGRES_READY_TIMEOUT_SECS", "soon")]);

    assert_eq!(output.status.code(), Some(2), "expected exit 2:\n{stdout}");
    assert!(
        stdout.contains("PROBLEM  settings:")
            && stdout.contains("HARNESS_POSTGRES_READY_TIMEOUT_SECS"),
        "the line should name the variable: {stdout}"
    );
}

#[test]
fn doctor_flags_missing_candidate_image() {
    let image = format!(
        "localizevideos-candidate:doctor-missing-{}",
        std::process::id()
    );

    let (output, stdout) = doctor(&[("HARNESS_APP_IMAGE", &image)]);

    assert_eq!(output.status.code(), Some(2), "expected exit 2:\n{stdout}");
    assert!(
        stdout.contains(&format!("PROBLEM  app image: {image} is missing")),
        "{stdout}"
    );
    assert!(
        stdout.contains("docker load"),
        "the line should say how to load it: {stdout}"
    );
}
