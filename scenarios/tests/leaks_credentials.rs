//! `leaks.credentials` against the app, and its self-test with an app built with the fail
//! point that logs the connection string at startup.

mod common;

use common::{describe, faulty_app, in_run, step, test_only};
use harness::check::Status;
use harness::durability::Durability;
use scenarios::leaks_credentials;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_credentials_passes() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        leaks_credentials::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_credentials_flags_logged_connection_string() {
    let options = faulty_app(Durability::TestOnly, "startup.log_connection_string=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        leaks_credentials::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let canary = result
        .findings
        .iter()
        .find(|finding| finding.contains("password of role lv_app"))
        .unwrap_or_else(|| {
            panic!(
                "a finding should name the app role's password: {}",
                describe(&result)
            )
        });
    assert!(
        canary.starts_with("container lv-app-") && canary.contains(" stdout, line "),
        "the finding should point at a line of the app's stdout: {canary}"
    );
}
