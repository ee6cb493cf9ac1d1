//! Maintains `snapshots/schema.snap`, the schema that `migrations.replay`
//! compares against. The test applies `migrations/` to the fresh database of a
//! run and snapshots the description with insta, so accepting a change
//! (`INSTA_UPDATE=always`) updates the same file that the check reads.
//!
//! Needs Docker and the Postgres image (images/build.sh builds it).

use harness::run::{RunOptions, with_run};
use scenarios::migrations_replay::describe_schema;
use scenarios::snapshot::SCHEMA_SNAPSHOT;

#[tokio::test]
async fn schema_matches_snapshot() {
    let description = with_run(RunOptions::default(), async |run| {
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
