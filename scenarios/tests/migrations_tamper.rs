//! `migrations.tamper` on the project's migrations, and its self-tests: a fixture history is
//! applied, then the ledger is compared with a folder in which an applied migration was edited,
//! one was removed, or a new one is numbered below an applied one.

mod common;

use std::path::PathBuf;

use common::{describe, in_run, step, test_only};
use harness::check::{CheckResult, Status};
use harness::run::RunOptions;
use scenarios::fixtures::{
    tamper_applied_migrations_dir, tamper_edited_migrations_dir, tamper_lower_migrations_dir,
    tamper_missing_migrations_dir,
};
use scenarios::migrations_tamper;

/// Applies the fixture history, then runs the check against `tampered`.
async fn check_tampered(tampered: PathBuf) -> CheckResult {
    let options = RunOptions {
        migrations_dir: Some(tamper_applied_migrations_dir()),
        ..test_only()
    };
    in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the fixture history");
        let mut deployment = run.deployment().clone();
        deployment.migrations_dir = tampered;
        migrations_tamper::run(&deployment).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_tamper_passes() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying migrations/");
        migrations_tamper::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_tamper_flags_edited_file() {
    let result = check_tampered(tamper_edited_migrations_dir()).await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0]
            .starts_with("migration 2 (0002_add_notes_title.sql) was edited after it was applied"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_tamper_flags_missing_file() {
    let result = check_tampered(tamper_missing_migrations_dir()).await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (\"add notes title\") is recorded in _sqlx_migrations, but its file is \
             missing"
        ),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_tamper_flags_lower_version() {
    let result = check_tampered(tamper_lower_migrations_dir()).await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 3 (0003_add_notes_tag.sql) is new but numbered below migration 4, which \
             is already applied"
        ),
        "{}",
        describe(&result)
    );
}
