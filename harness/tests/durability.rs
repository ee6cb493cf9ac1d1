//! The durability setting of a run against a real Postgres: a durable run, which the restart,
//! chaos and rotation checks use, keeps fsync, synchronous_commit and full_page_writes on, and
//! a test-only run turns all three off. Each run also survives a stop and start of Postgres
//! with its settings, because they belong to the container. A run whose data folder is in
//! memory refuses to stop Postgres.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use harness::deployment::DATABASE;
use harness::durability::{Durability, SETTINGS};
use harness::labels;
use harness::postgres::{DATA_DIR, DataFolder};
use harness::run::{Run, RunOptions, with_run};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use testcontainers::bollard::models::MountPoint;

/// Reads `SHOW <setting>` for each of [`SETTINGS`] as the auditor role.
async fn show_settings(run: &Run) -> Vec<(&'static str, String)> {
    let deployment = run.deployment();
    let mut connection = deployment
        .connect_options_to(&deployment.auditor, DATABASE)
        .disable_statement_logging()
        .connect()
        .await
        .expect("the auditor role should connect");
    let mut values = Vec::new();
    for setting in SETTINGS {
        let (value,): (String,) = sqlx::query_as(AssertSqlSafe(format!("SHOW {setting}")))
            .fetch_one(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("SHOW {setting} should return a row: {error}"));
        values.push((setting, value));
    }
    connection
        .close()
        .await
        .expect("the connection should close");
    values
}

async fn assert_settings(durability: Durability) {
    harness::logging::init(false);
    let options = RunOptions {
        durability,
        ..RunOptions::default()
    };
    with_run(options, async |run| {
        assert_eq!(
            run.durability(),
            durability,
            "the run should report its durability"
        );
        let expected = durability.expected_value();
        assert_volume_labelled(run).await;

        for (setting, value) in show_settings(run).await {
            assert_eq!(
                value,
                expected,
                "SHOW {setting} on a {} run's Postgres",
                durability.name()
            );
        }

        run.restart_postgres()
            .await
            .expect("Postgres should restart on its data folder");
        for (setting, value) in show_settings(run).await {
            assert_eq!(
                value,
                expected,
                "SHOW {setting} on a {} run's Postgres after a restart",
                durability.name()
            );
        }
    })
    .await
    .expect("the run should start and shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_run_is_durable() {
    assert_eq!(
        RunOptions::default().durability,
        Durability::Durable,
        "runs of the restart, chaos and rotation checks use the default options"
    );
    assert_settings(Durability::Durable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_only_run_skips_syncs() {
    assert_settings(Durability::TestOnly).await;
}

/// A data folder in memory is a tmpfs mount. The run rejects a stop of such a Postgres, which
/// would empty it, before anything stops, so Postgres still returns rows afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_data_folder_rejects_stop() {
    harness::logging::init(false);
    let options = RunOptions {
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    };
    with_run(options, async |run| {
        assert_eq!(run.postgres_data(), DataFolder::Memory);
        let data = data_mount(run).await;
        assert_eq!(
            data.typ.as_deref(),
            Some("tmpfs"),
            "the data folder should be a tmpfs mount: {data:?}"
        );

        let error = run
            .stop_postgres()
            .await
            .expect_err("stopping Postgres with its data in memory should be refused");
        let message = error.to_string();
        assert!(
            message.contains("in memory") && message.contains("DataFolder::Volume"),
            "the refusal should name the cause and the fix: {message}"
        );
        show_settings(run).await;
    })
    .await
    .expect("the run should start and shut down");
}

/// Asserts that the run's Postgres keeps its data on a volume that carries the run-id label, so
/// that a search by label finds it.
async fn assert_volume_labelled(run: &Run) {
    let data = data_mount(run).await;
    let volume = data
        .name
        .clone()
        .unwrap_or_else(|| panic!("the mount at {DATA_DIR} is no named volume: {data:?}"));
    let labels = run
        .docker()
        .inspect_volume(&volume)
        .await
        .expect("the data volume should be inspectable")
        .labels;
    assert_eq!(
        labels.get(labels::RUN_ID).map(String::as_str),
        Some(run.id().to_string().as_str()),
        "the data volume {volume} should carry the run-id label: {labels:?}"
    );
}

/// Durable settings with the data folder in memory are rejected before any container starts,
/// because the durable checks crash Postgres and the crash would empty the tmpfs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_run_in_memory_is_usage_error() {
    let options = RunOptions {
        durability: Durability::Durable,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    };
    let error = match Run::start(options).await {
        Ok(run) => {
            let _ = run.shutdown().await;
            panic!("a durable run with its data in memory should be rejected");
        }
        Err(error) => error,
    };
    assert!(
        matches!(error, harness::error::Error::Usage(_)),
        "the rejection should be a usage error: {error}"
    );
    assert!(
        error.to_string().contains("DataFolder::Volume"),
        "the rejection should name the fix: {error}"
    );
}

/// Returns the mount on the data folder of the run's Postgres container.
async fn data_mount(run: &Run) -> MountPoint {
    let postgres = run.postgres().expect("the run should have Postgres").name();
    let inspected = run
        .docker()
        .inspect_container(postgres, None)
        .await
        .expect("the Postgres container should be inspectable");
    let mounts = inspected.mounts.unwrap_or_default();
    mounts
        .iter()
        .find(|mount| mount.destination.as_deref() == Some(DATA_DIR))
        .cloned()
        .unwrap_or_else(|| panic!("no mount at {DATA_DIR} among {mounts:?}"))
}
