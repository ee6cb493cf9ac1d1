//! The template database against a real Postgres: a clone carries the schema and grants, the
//! template accepts no connections, the app role cannot truncate, a reset empties a clone, and
//! a dropped clone is gone.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use harness::deployment::Deployment;
use harness::reset::{ResetStrategy, TableReset};
use harness::run::{RunOptions, with_run};
use harness::template::{TEMPLATE_DATABASE, TemplateDatabase};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

async fn connect(
    deployment: &Deployment,
    role: &str,
    database: &str,
) -> Result<PgConnection, sqlx::Error> {
    let credentials = match role {
        "lv_app" => &deployment.app,
        "lv_auditor" => &deployment.auditor,
        _ => &deployment.migrator,
    };
    deployment
        .connect_options_to(credentials, database)
        .disable_statement_logging()
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_carries_schema_and_grants() {
    harness::logging::init(false);
    with_run(RunOptions::default(), async |run| {
        let deployment = run.deployment().clone();
        let template = TemplateDatabase::create(&deployment)
            .await
            .expect("the template should be created and migrated");
        let clone = template
            .clone_database(&deployment, "test")
            .await
            .expect("the template should clone");

        let mut app = connect(&deployment, "lv_app", clone.name())
            .await
            .expect("lv_app should connect to the clone");
        let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
            .fetch_one(&mut app)
            .await
            .expect("lv_app should read the clone's users");
        assert_eq!(users, 0, "a clone of the template starts empty");
        let (can_truncate,): (bool,) =
            sqlx::query_as("SELECT has_table_privilege('lv_app', 'users', 'TRUNCATE')")
                .fetch_one(&mut app)
                .await
                .expect("privileges should be readable");
        assert!(!can_truncate, "lv_app must not get TRUNCATE on users");
        let (public_connect,): (bool,) = sqlx::query_as(
            // A NULL datacl means the default privileges, which include CONNECT for PUBLIC.
            "SELECT datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a
                 WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT')
             FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&mut app)
        .await
        .expect("the clone's ACL should be readable");
        assert!(!public_connect, "PUBLIC must not have CONNECT on the clone");
        app.close().await.expect("closing should work");

        let refused = connect(&deployment, "lv_migrator", TEMPLATE_DATABASE).await;
        assert!(
            refused.is_err(),
            "the template must accept no connections, even from its owner"
        );

        clone
            .drop(&deployment)
            .await
            .expect("the clone should drop");
    })
    .await
    .expect("the run should start and shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_empties_clone_and_restarts_identity() {
    harness::logging::init(false);
    with_run(RunOptions::default(), async |run| {
        let deployment = run.deployment().clone();
        let template = TemplateDatabase::create(&deployment)
            .await
            .expect("the template should be created and migrated");
        let clone = template
            .clone_database(&deployment, "test")
            .await
            .expect("the template should clone");
        let mut migrator = connect(&deployment, "lv_migrator", clone.name())
            .await
            .expect("lv_migrator should connect to the clone");

        for strategy in ResetStrategy::ALL {
            sqlx::raw_sql(
                "INSERT INTO audit_log (actor, action, entity_type, entity_id)
                 VALUES ('test', 'create', 'user', gen_random_uuid())",
            )
            .execute(&mut migrator)
            .await
            .expect("an audit row should insert");
            let mut reset = TableReset::connect(&deployment, clone.name(), strategy)
                .await
                .expect("the reset should prepare");

            reset.reset().await.expect("the reset should run");

            let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_log")
                .fetch_one(&mut migrator)
                .await
                .expect("audit_log should be readable");
            assert_eq!(rows, 0, "{strategy} should empty audit_log");
            let (next_id,): (i64,) = sqlx::query_as(
                "INSERT INTO audit_log (actor, action, entity_type, entity_id)
                 VALUES ('test', 'create', 'user', gen_random_uuid()) RETURNING id",
            )
            .fetch_one(&mut migrator)
            .await
            .expect("an audit row should insert");
            assert_eq!(next_id, 1, "{strategy} should restart the identity");
            reset.reset().await.expect("the reset should run again");
            reset.close().await;
        }

        migrator.close().await.expect("closing should work");
        clone
            .drop(&deployment)
            .await
            .expect("the clone should drop");
    })
    .await
    .expect("the run should start and shut down");
}
