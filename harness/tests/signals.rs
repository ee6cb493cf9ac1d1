//! `signals::interrupted` in a child process of this test binary: the first SIGINT completes
//! the future, and a second one ends the process even while the cleanup blocks.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Set in the child process, which then acts as the interrupted harness.
const CHILD_VAR: &str = "HARNESS_SIGNALS_TEST_CHILD";
/// Deadline for each step of the child: its start, each signal's effect.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Waits for the first signal, prints which one, and then blocks for a minute as a slow cleanup
/// would. Prints `listening` once the handlers are installed.
fn child_main() {
    let runtime = tokio::runtime::Runtime::new().expect("the runtime should start");
    let first = runtime.spawn(harness::signals::interrupted());
    // The spawned task installs the handlers on its first poll, which comes within this sleep.
    std::thread::sleep(Duration::from_millis(500));
    println!("listening");
    let name = runtime
        .block_on(first)
        .expect("the signal task should not panic");
    println!("first signal {name}");
    std::thread::sleep(Duration::from_secs(60));
    println!("cleanup finished");
}

#[test]
fn second_sigint_ends_process_during_cleanup() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child_main();
        return;
    }

    let mut child = Command::new(std::env::current_exe().expect("the test binary has a path"))
        .args([
            "--exact",
            "second_sigint_ends_process_during_cleanup",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_VAR, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child should start");
    let pid = child.id() as libc::pid_t;
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    // libtest prints `test <name> ... ` without a line end first, so the child's first line
    // ends with what it printed.
    let wait_for = |expected: &str| loop {
        match lines.recv_timeout(STEP_TIMEOUT) {
            Ok(line) if line.ends_with(expected) => return,
            Ok(_) => continue,
            Err(error) => panic!("the child printed no {expected:?}: {error}"),
        }
    };

    wait_for("listening");
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "first SIGINT");
    wait_for("first signal SIGINT");
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "second SIGINT");

    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = finished
        .recv_timeout(STEP_TIMEOUT)
        .unwrap_or_else(|_| {
            // SAFETY: as above; the child blocks in its minute-long cleanup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the second SIGINT did not end the child within {STEP_TIMEOUT:?}")
        })
        .expect("waiting for the child should work");
    assert_eq!(
        status.signal(),
        Some(libc::SIGINT),
        "the second SIGINT should end the child by its default action, not {status}"
    );
}
