//! `errors.sanitized` against the app, the snapshots of each error class's public shape, and
//! the self-test with an app built with the fail point that passes database error messages
//! through to the client.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{describe, faulty_app, in_run, step, test_only_stoppable};
use harness::check::Status;
use harness::durability::Durability;
use harness::postgres::DataFolder;
use harness::run::RunOptions;
use scenarios::errors_sanitized;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_sanitized_passes() {
    let result = in_run(test_only_stoppable(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        errors_sanitized::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

/// Maintains `snapshots/error_<class>.snap`, which the check compares against. Accept a change
/// with `INSTA_UPDATE=always`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_shapes() {
    let observations = in_run(test_only_stoppable(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        errors_sanitized::observe(run).await
    })
    .await
    .unwrap_or_else(|message| panic!("sending the catalogue failed: {message}"));

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(scenarios::snapshot::snapshots_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);

    // Every class is asserted before the test fails, so one run writes every changed snapshot.
    let mut mismatches = Vec::new();
    for observation in &observations {
        let name = errors_sanitized::snapshot_name(observation.class);
        let shape = observation.shape();
        let asserted = catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name.clone(), shape));
        }));
        if asserted.is_err() {
            mismatches.push(name);
        }
    }
    assert!(
        mismatches.is_empty(),
        "these error shapes differ from their snapshots: {mismatches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_sanitized_flags_database_message() {
    // The catalogue stops Postgres, so the data folder must survive a stop.
    let options = RunOptions {
        postgres_data: DataFolder::Volume,
        ..faulty_app(Durability::TestOnly, "error.database_message=return")
    };
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        errors_sanitized::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let unique = result
        .findings
        .iter()
        .find(|finding| finding.starts_with("POST /v1/users [unique violation]: error.message"))
        .unwrap_or_else(|| {
            panic!(
                "a finding should name the unique violation's error.message: {}",
                describe(&result)
            )
        });
    assert!(
        unique.contains("users_email_lower_key") || unique.contains("SQLSTATE"),
        "the finding should quote the database detail: {unique}"
    );
}
