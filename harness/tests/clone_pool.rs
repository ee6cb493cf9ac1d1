//! The clone pool against a real Postgres: taken clones are distinct and migrated, the pool
//! refills after a take, shutdown drops the clones no test took, and a bad prefix or capacity
//! is rejected.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::clone_pool::ClonePool;
use harness::deployment::Deployment;
use harness::run::{RunOptions, with_run};
use harness::template::TemplateDatabase;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

/// Deadline for the pool to fill up. A clone took less than 2 s in every recorded run, so
/// only a stuck filler reaches it.
const FILL_TIMEOUT: Duration = Duration::from_secs(60);

async fn connect(deployment: &Deployment, database: &str) -> PgConnection {
    deployment
        .connect_options_to(&deployment.migrator, database)
        .disable_statement_logging()
        .connect()
        .await
        .expect("lv_migrator should connect")
}

async fn pool_databases(deployment: &Deployment) -> Vec<String> {
    let mut server = connect(deployment, "localizevideos").await;
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT datname FROM pg_database WHERE datname LIKE 'localizevideos_pool_%' ORDER BY 1",
    )
    .fetch_all(&mut server)
    .await
    .expect("pg_database should be readable");
    server.close().await.expect("closing should work");
    names.into_iter().map(|(name,)| name).collect()
}

async fn wait_until_ready(pool: &ClonePool, count: usize) {
    let deadline = Instant::now() + FILL_TIMEOUT;
    while pool.ready() < count {
        assert!(
            Instant::now() < deadline,
            "the pool held {} of {count} clones after {FILL_TIMEOUT:?}",
            pool.ready()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_hands_out_migrated_clones() {
    harness::logging::init(false);
    with_run(RunOptions::default(), async |run| {
        run.apply_migrations()
            .await
            .expect("the application database should migrate");
        let deployment = run.deployment().clone();
        let template = Arc::new(
            TemplateDatabase::create(&deployment)
                .await
                .expect("the template should be created and migrated"),
        );
        let mut pool = ClonePool::start(template.clone(), deployment.clone(), "pool", 2)
            .expect("the pool should start");

        wait_until_ready(&pool, 2).await;
        let first = pool.take().await.expect("a first clone should be taken");
        let second = pool.take().await.expect("a second clone should be taken");
        let third = pool.take().await.expect("a third clone should be taken");
        assert_ne!(first.name(), second.name(), "clones must be distinct");
        assert_ne!(second.name(), third.name(), "clones must be distinct");
        assert_ne!(first.name(), third.name(), "clones must be distinct");

        for clone in [&first, &second, &third] {
            let mut connection = connect(&deployment, clone.name()).await;
            let (applied,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&mut connection)
                    .await
                    .expect("the clone should have the migrations table");
            assert_eq!(
                applied,
                template.migrations() as i64,
                "clone {} should carry every migration of the template",
                clone.name()
            );
            connection.close().await.expect("closing should work");
        }

        wait_until_ready(&pool, 2).await;
        let dropped = pool.shutdown().await.expect("the pool should shut down");
        assert!(
            dropped >= 2,
            "shutdown should drop the 2 waiting clones, dropped {dropped}"
        );

        let taken = [first.name(), second.name(), third.name()];
        let left = pool_databases(&deployment).await;
        let untaken: Vec<&String> = left
            .iter()
            .filter(|name| !taken.contains(&name.as_str()))
            .collect();
        assert!(
            untaken.is_empty(),
            "shutdown should drop every clone no test took, left: {untaken:?}"
        );
        for clone in [first, second, third] {
            clone
                .drop(&deployment)
                .await
                .expect("a taken clone should drop");
        }
        assert!(
            pool_databases(&deployment).await.is_empty(),
            "no pool clone should remain after the taken ones are dropped"
        );
    })
    .await
    .expect("the run should start and shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_rejects_bad_settings() {
    harness::logging::init(false);
    with_run(RunOptions::default(), async |run| {
        let deployment = run.deployment().clone();
        let template = Arc::new(
            TemplateDatabase::create(&deployment)
                .await
                .expect("the template should be created and migrated"),
        );

        let zero = ClonePool::start(template.clone(), deployment.clone(), "pool", 0);
        assert!(zero.is_err(), "a capacity of 0 should be rejected");

        let bad_prefix = ClonePool::start(template, deployment.clone(), "Bad-Prefix", 1);
        let error = bad_prefix
            .err()
            .expect("a prefix with capitals and a hyphen should be rejected");
        assert!(
            error.to_string().contains("invalid clone prefix"),
            "the error should name the invalid prefix, got: {error}"
        );
    })
    .await
    .expect("the run should start and shut down");
}
