//! `crud.properties` against the app, and its self-tests: apps built with a fail point that
//! ignores a video's new title, and with one that commits a user delete's audit row before the
//! delete, so a rejected delete leaves the row behind. Each self-test asserts that the check
//! fails and shrinks the failure to a short sequence.
//!
//! A fourth test shows that the check's responses and its app instance's logs reach the leak
//! checks' scans.
//!
//! The passing test honours `PROPTEST_CASES`, `PROPTEST_RNG_SEED` and `CRUD_PROPERTIES_REPLAY`.
//! The self-tests honour only `CRUD_PROPERTIES_REPLAY`: they run a fixed number of cases from a
//! fixed seed, so that a small `PROPTEST_CASES` cannot keep the fault out of reach.

mod common;

use common::{describe, faulty_app, in_run, test_only};
use harness::check::CheckResult;
use harness::check::Status;
use harness::durability::Durability;
use harness::scan::{Scanner, password_hash_formats};
use scenarios::crud_properties::{
    self, DEFAULT_MAX_CALLS, Options, REPLAY_VAR, Regressions, ReplayCommand, Report,
    parse_case_seed,
};
use scenarios::leak_scan::{scan_container_logs, scan_responses};
use scenarios::leaks_credentials;

/// Cases of the passing test: enough to reach every call kind many times, small enough for a
/// suite on 2 cores.
const CASES: u32 = 32;
/// Cases a self-test may generate before the fault shows; it stops at the first failure.
const SELF_TEST_CASES: u32 = 256;
/// Generator seed of the self-tests, fixed so that their outcome does not vary between runs.
const SELF_TEST_SEED: u64 = 20_261_204;
/// Maximum length of the shrunk sequence that a self-test accepts.
const MAX_SHRUNK_CALLS: usize = 5;

fn options(test: &str, default_cases: u32) -> Options {
    let replay = ReplayCommand::Test {
        binary: "crud_properties".to_owned(),
        test: test.to_owned(),
    };
    Options::from_env(default_cases, replay).unwrap_or_else(|message| panic!("{message}"))
}

async fn run_with_fault(test: &str, failpoint: &str) -> Report {
    let replay = match std::env::var(REPLAY_VAR) {
        Ok(seed) if !seed.trim().is_empty() => {
            Some(parse_case_seed(&seed).unwrap_or_else(|message| panic!("{REPLAY_VAR}: {message}")))
        }
        _ => None,
    };
    let options = Options {
        cases: SELF_TEST_CASES,
        seed: SELF_TEST_SEED,
        max_calls: DEFAULT_MAX_CALLS,
        // The faults are intended, so their failures are not regressions to keep.
        regressions: replay.map_or(Regressions::Off, Regressions::Replay),
        replay_command: ReplayCommand::Test {
            binary: "crud_properties".to_owned(),
            test: test.to_owned(),
        },
        concurrency: false,
    };
    let run_options = faulty_app(Durability::TestOnly, &format!("{failpoint}=return"));
    in_run(run_options, async |run| {
        crud_properties::run_on_clone(run, &options).await
    })
    .await
}

/// Asserts that the check failed, and reports when it passed because its cases missed the fault.
fn assert_fault_found(result: &CheckResult) {
    assert_ne!(
        result.status,
        Status::Pass,
        "the check passed: {SELF_TEST_CASES} cases from seed {SELF_TEST_SEED} were too few to \
         reach the fault; raise SELF_TEST_CASES or change SELF_TEST_SEED: {}",
        describe(result)
    );
    assert_eq!(result.status, Status::Fail, "{}", describe(result));
}

fn shrunk_calls(report: &Report) -> usize {
    report
        .reproduction
        .as_ref()
        .map_or(usize::MAX, |reproduction| reproduction.calls.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_properties_passes() {
    let options = options("crud_properties_passes", CASES);

    let report = in_run(test_only(), async |run| {
        crud_properties::run_on_clone(run, &options).await
    })
    .await;

    assert_eq!(
        report.result.status,
        Status::Pass,
        "{}",
        describe(&report.result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_properties_flags_ignored_title() {
    let report = run_with_fault(
        "crud_properties_flags_ignored_title",
        "video.update.ignore_title",
    )
    .await;

    assert_fault_found(&report.result);
    assert!(
        report.result.message.contains("title"),
        "the message should name the field `title`: {}",
        describe(&report.result)
    );
    assert!(
        shrunk_calls(&report) <= MAX_SHRUNK_CALLS,
        "the failure should shrink to at most {MAX_SHRUNK_CALLS} calls: {}",
        describe(&report.result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_properties_flags_audit_row_of_rejected_delete() {
    let report = run_with_fault(
        "crud_properties_flags_audit_row_of_rejected_delete",
        "user.delete.audit_outside_transaction",
    )
    .await;

    assert_fault_found(&report.result);
    assert!(
        report.result.message.contains("audit_log"),
        "the message should name audit_log: {}",
        describe(&report.result)
    );
    assert!(
        shrunk_calls(&report) <= MAX_SHRUNK_CALLS,
        "the failure should shrink to at most {MAX_SHRUNK_CALLS} calls: {}",
        describe(&report.result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_properties_output_reaches_leak_scans() {
    let options = Options {
        cases: 4,
        seed: SELF_TEST_SEED,
        max_calls: DEFAULT_MAX_CALLS,
        regressions: Regressions::Off,
        replay_command: ReplayCommand::Test {
            binary: "crud_properties".to_owned(),
            test: "crud_properties_output_reaches_leak_scans".to_owned(),
        },
        concurrency: false,
    };
    // The app instance nests password hashes in user lists and logs its connection string.
    let run_options = faulty_app(
        Durability::TestOnly,
        "user.list.nested_hash=return;startup.log_connection_string=return",
    );

    let (responses, hash_findings, log_findings, logs) = in_run(run_options, async |run| {
        crud_properties::run_on_clone(run, &options).await;

        let responses = run.deployment().responses.responses();
        let hash_scanner = Scanner::new(Vec::new(), password_hash_formats()).expect("scanner");
        let hash_findings = scan_responses(&hash_scanner, &responses);
        let logs = run.app_logs().await.expect("app logs should be readable");
        let credential_scanner =
            leaks_credentials::scanner(run.deployment()).expect("credential scanner");
        let log_findings = scan_container_logs(&credential_scanner, &logs);
        (responses.len(), hash_findings, log_findings, logs.len())
    })
    .await;

    assert!(responses > 0, "crud.properties recorded no response");
    assert!(
        hash_findings
            .iter()
            .any(|finding| finding.source.contains("sent by crud.properties")),
        "no hash found in the check's recorded responses: {hash_findings:?}"
    );
    assert_eq!(logs, 1, "the removed app instance's logs should be kept");
    assert!(
        log_findings
            .iter()
            .any(|finding| finding.source.contains("-properties stdout")
                || finding.source.contains("-properties stderr")),
        "no connection string found in the app instance's logs: {log_findings:?}"
    );
}
