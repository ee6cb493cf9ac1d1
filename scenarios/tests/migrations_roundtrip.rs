//! `migrations.roundtrip` on the project's migrations, which have no down files, so it is
//! skipped. It passes on a fixture whose down files undo their up files. Its self-test is a
//! down file that leaves a constraint behind.

mod common;

use common::{describe, in_run, test_only};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::fixtures::{reversible_incomplete_migrations_dir, reversible_migrations_dir};
use scenarios::migrations_roundtrip;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_roundtrip_skips_without_down_files() {
    let result = in_run(test_only(), async |run| {
        migrations_roundtrip::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Skip, "{}", describe(&result));
    assert!(
        result.message.starts_with("skipped: no down migrations"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_roundtrip_passes_reversible_fixture() {
    let options = RunOptions {
        migrations_dir: Some(reversible_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_roundtrip::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("migrations 1, 2 went up, down and up again"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_roundtrip_flags_incomplete_down() {
    let options = RunOptions {
        migrations_dir: Some(reversible_incomplete_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_roundtrip::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "the down migration of 2 is incomplete: table notes: `constraint notes_body_check"
        ),
        "a finding should name the leftover constraint: {}",
        describe(&result)
    );
}
