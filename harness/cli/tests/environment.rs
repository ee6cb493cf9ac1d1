//! An environment that does not come up makes `harness validate` exit with 2, not 1, and the
//! error names how the container ended.

use std::process::Command;

#[test]
fn postgres_that_exits_is_an_environment_error() {
    // The runtime image runs bash, which exits at once without a terminal: a Postgres image
    // whose container stops before it becomes ready. A restart check gets durable settings,
    // which add no `-c` options to the image's command, so the image's own command, bash, runs.
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["validate", "--only", "restarts.postgres_fast"])
        .env("HARNESS_POSTGRES_IMAGE", "localizevideos/runtime:bookworm")
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .output()
        .expect("harness should start");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        // "after running N s" appears only when Docker reports the start and finish times,
        // which it may not yet have done for a container that exits at once.
        stderr.contains("exited with code 0") && stderr.contains("before it became ready"),
        "the error should say that the container exited: {stderr}"
    );
    assert!(
        !stderr.contains("did not become ready within"),
        "the error should not claim a timeout: {stderr}"
    );
    assert!(
        !stdout.contains("report written"),
        "no check ran, so no report should be written: {stdout}"
    );
}
