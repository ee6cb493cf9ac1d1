//! `migrations.replay` against a fresh database, and its self-test with a migrations folder
//! whose schema differs from the committed snapshot.

mod common;

use common::{describe, in_run, test_only};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::fixtures::extra_column_migrations_dir;
use scenarios::migrations_replay;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_replay_passes() {
    let result = in_run(test_only(), async |run| {
        migrations_replay::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_replay_flags_edited_schema() {
    let options = RunOptions {
        migrations_dir: Some(extra_column_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_replay::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.message.contains("schema differs from the snapshot"),
        "the message should name the snapshot difference: {}",
        describe(&result)
    );
    assert!(
        result.message.contains("fixture_note"),
        "the message should name the extra column fixture_note: {}",
        describe(&result)
    );
}
