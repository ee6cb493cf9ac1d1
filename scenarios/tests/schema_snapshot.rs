//! Maintains `snapshots/schema.snap`, the schema that `migrations.replay`
//! compares against. The test applies `migrations/` to the fresh database of a
//! run and snapshots the description with insta, so accepting a change
//! (`INSTA_UPDATE=always`) updates the same file that the check reads. A
//! second test checks the lines for states that the snapshot cannot contain.
//!
//! Needs Docker and the Postgres image (images/build.sh builds it).

use harness::durability::Durability;
use harness::postgres::DataFolder;
use harness::run::{RunOptions, with_run};
use scenarios::migrations_replay::describe_schema;
use scenarios::snapshot::SCHEMA_SNAPSHOT;
use sqlx::Executor as _;

/// Returns run options with test-only durability and the data folder in memory, because no
/// test here crashes, stops or restarts Postgres.
fn test_only() -> RunOptions {
    RunOptions {
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    }
}

#[tokio::test]
async fn schema_matches_snapshot() {
    let description = with_run(test_only(), async |run| {
        run.apply_migrations()
            .await
            .expect("migrations/ should apply to a fresh database");

        let deployment = run.deployment();
        let auditor = deployment
            .pool(&deployment.auditor)
            .await
            .expect("auditor role should connect");
        let mut connection = auditor
            .acquire()
            .await
            .expect("auditor role should get a connection");
        let description = describe_schema(&mut connection)
            .await
            .expect("schema description should be readable as the auditor");
        drop(connection);
        auditor.close().await;
        description
    })
    .await
    .expect("run should start and shut down");

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(scenarios::snapshot::snapshots_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(SCHEMA_SNAPSHOT, description));
}

/// The snapshot above covers only default states, so this test makes non-default ones by hand
/// and checks the lines that describe them: view options and the persistence of a table and
/// of the identity sequence that ALTER TABLE ... SET UNLOGGED changes with it.
#[tokio::test]
async fn schema_describes_view_options_and_unlogged() {
    let description = with_run(test_only(), async |run| {
        run.apply_migrations()
            .await
            .expect("migrations/ should apply to a fresh database");

        let deployment = run.deployment();
        let migrator = deployment
            .pool(&deployment.migrator)
            .await
            .expect("migrator role should connect");
        let mut connection = migrator
            .acquire()
            .await
            .expect("migrator role should get a connection");
        connection
            .execute(
                "CREATE VIEW video_ids WITH (security_invoker = true, security_barrier = false)
                     AS SELECT id FROM videos;
                 ALTER TABLE audit_log SET UNLOGGED",
            )
            .await
            .expect("the manual change should apply");
        let description = describe_schema(&mut connection)
            .await
            .expect("schema description should be readable");
        drop(connection);
        migrator.close().await;
        description
    })
    .await
    .expect("run should start and shut down");

    assert!(
        description.contains(
            "view video_ids\n  owner lv_migrator\n  option security_barrier = false\n  \
             option security_invoker = true\n"
        ),
        "the view's options should be described, sorted by name: {description}"
    );
    assert!(
        description.contains("table audit_log\n  owner lv_migrator\n  persistence unlogged\n"),
        "the UNLOGGED table should be described: {description}"
    );
    assert!(
        description
            .contains("sequence audit_log_id_seq\n  owner lv_migrator\n  persistence unlogged\n"),
        "the identity sequence of the UNLOGGED table should be described as unlogged too: \
         {description}"
    );
    assert!(
        description.contains("table videos\n  owner lv_migrator\n  column"),
        "a table in the default state should have no persistence or option line: {description}"
    );
}
