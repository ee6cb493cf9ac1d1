//! `leaks.password_hash` against the app, and its self-tests with apps built with the fail
//! points that nest the hash in the user list and store it in the audit log.

mod common;

use common::{describe, faulty_app, in_run, step, test_only};
use harness::check::{CheckResult, Status};
use harness::durability::Durability;
use scenarios::leaks_password_hash;

async fn run_with_failpoints(failpoints: &str) -> CheckResult {
    let options = faulty_app(Durability::TestOnly, failpoints);
    in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        leaks_password_hash::run(run).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_password_hash_passes() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        leaks_password_hash::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_password_hash_flags_nested_hash() {
    let result = run_with_failpoints("user.list.nested_hash=return").await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("GET /v1/users?limit=100&offset=0"),
        "the message should name the endpoint: {}",
        describe(&result)
    );
    assert!(
        result.message.contains(".security.password_hash"),
        "the message should name the field path: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_password_hash_flags_audit_row() {
    let result = run_with_failpoints("audit.user.store_full_row=return").await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let audit: Vec<&String> = result
        .findings
        .iter()
        .filter(|finding| finding.starts_with("audit_log row id="))
        .collect();
    assert!(
        !audit.is_empty(),
        "a finding should name an audit_log row: {}",
        describe(&result)
    );
    assert!(
        audit
            .iter()
            .all(|finding| finding.contains(", field $.entity.password_hash: ")),
        "the findings should name the column and the key: {audit:?}"
    );
    // The second user's hash never changed, so its row contains the stored value exactly.
    assert!(
        audit
            .iter()
            .any(|finding| finding.contains("password hash of user ")),
        "a finding should name the user whose stored hash it is: {audit:?}"
    );
}
