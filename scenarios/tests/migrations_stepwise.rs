//! `migrations.stepwise` on the project's migrations and on a Prisma Migrate folder, and its
//! self-tests with a migration that drops a column holding data and one that fails on rows.

mod common;

use common::{describe, in_run};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::fixtures::{
    drop_column_migrations_dir, not_null_column_migrations_dir, prisma_migrations_dir,
};
use scenarios::migrations_stepwise;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_passes() {
    let result = in_run(RunOptions::default(), async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_dropped_column() {
    let options = RunOptions {
        migrations_dir: Some(drop_column_migrations_dir()),
        ..RunOptions::default()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 3 (0003_drop_notes_body.sql) dropped or renamed column notes.body, which \
         held data in 6 of 6 rows",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_replays_prisma_folder() {
    let options = RunOptions {
        migrations_dir: Some(prisma_migrations_dir()),
        ..RunOptions::default()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("3 migrations applied one at a time"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_failure_on_rows() {
    let options = RunOptions {
        migrations_dir: Some(not_null_column_migrations_dir()),
        ..RunOptions::default()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_add_notes_owner.sql) failed to apply on top of the rows of the \
             earlier versions"
        ),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[0].contains("contains null values"),
        "the finding should carry Postgres's reason: {}",
        describe(&result)
    );
}
