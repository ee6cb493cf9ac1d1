//! The production-like topology against the real Docker engine: Postgres publishes no port, the
//! harness reaches it on the run network, pg_hba.conf rejects the app role from the harness,
//! and all of that survives a Postgres restart.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use harness::deployment::{Credentials, DATABASE, Deployment};
use harness::run::{RunOptions, with_run};
use harness::topology::Topology;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

/// SQLSTATE invalid_authorization_specification, which a pg_hba.conf rejection carries.
const REJECTED_BY_RULES: &str = "28000";

/// Logs in as `credentials` and returns `None`, or the SQLSTATE of the rejection.
async fn login(deployment: &Deployment, credentials: &Credentials) -> Option<String> {
    let options = deployment
        .connect_options_to(credentials, DATABASE)
        .disable_statement_logging();
    match PgConnection::connect_with(&options).await {
        Ok(connection) => {
            connection.close().await.ok();
            None
        }
        Err(sqlx::Error::Database(error)) => Some(error.code().unwrap_or_default().into_owned()),
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!(
                "logging in as {} failed before the server answered: {error}",
                credentials.role
            ))
        ),
    }
}

async fn published_ports(run: &harness::run::Run) -> usize {
    let postgres = run.postgres().expect("Postgres should be running");
    let inspected = run
        .docker()
        .inspect_container(postgres.id(), None)
        .await
        .expect("the Postgres container should be inspectable");
    inspected
        .network_settings
        .and_then(|settings| settings.ports)
        .unwrap_or_default()
        .values()
        .map(|bindings| bindings.as_ref().map_or(0, Vec::len))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_like_survives_postgres_restart() {
    harness::logging::init(false);
    let options = RunOptions {
        topology: Topology::ProductionLike,
        ..RunOptions::default()
    };

    let outcome = with_run(options, async |run| {
        assert_eq!(
            published_ports(run).await,
            0,
            "Postgres should publish no port"
        );
        let deployment = run.deployment().clone();
        assert_ne!(
            deployment.postgres_host, "127.0.0.1",
            "the harness should reach Postgres on the run network"
        );
        assert_eq!(login(&deployment, &deployment.auditor).await, None);
        assert_eq!(
            login(&deployment, &deployment.app).await.as_deref(),
            Some(REJECTED_BY_RULES),
            "pg_hba.conf should reject the app role from the harness"
        );

        if let Err(error) = run.restart_postgres().await {
            panic!(
                "{}",
                harness::redact::redact(&format!("restarting Postgres failed: {error}"))
            );
        }

        let deployment = run.deployment().clone();
        assert_eq!(
            published_ports(run).await,
            0,
            "Postgres should publish no port after a restart"
        );
        assert_eq!(login(&deployment, &deployment.auditor).await, None);
        assert_eq!(
            login(&deployment, &deployment.app).await.as_deref(),
            Some(REJECTED_BY_RULES),
            "pg_hba.conf should still reject the app role from the harness after a restart"
        );
    })
    .await;

    if let Err(error) = outcome {
        panic!(
            "{}",
            harness::redact::redact(&format!("the run failed: {error}"))
        );
    }
}
