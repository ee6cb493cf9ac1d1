//! `access.isolation` on a production-like run, and its self-tests: a run whose Postgres
//! publishes its port and accepts every role from every address, and an outsider on the app's
//! network that keeps a session open with the app role's password.

mod common;

use std::time::{Duration, Instant};

use common::{describe, in_run, step, test_only};
use harness::check::{CheckResult, Status};
use harness::deployment::DATABASE;
use harness::run::{Run, RunOptions};
use harness::topology::Topology;
use scenarios::access_isolation::{self, outsider};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

/// Deadline for the intruder's session to show up in pg_stat_activity.
const SESSION_TIMEOUT: Duration = Duration::from_secs(15);

fn production_like() -> RunOptions {
    RunOptions {
        topology: Topology::ProductionLike,
        ..test_only()
    }
}

async fn start_app(run: &mut Run) {
    step(run.apply_migrations().await, "applying the migrations");
    step(run.start_app().await, "starting the app");
}

fn assert_finding(result: &CheckResult, expected: &str) {
    assert!(
        result
            .findings
            .iter()
            .any(|finding| finding.contains(expected)),
        "a finding should contain {expected:?}: {}",
        describe(result)
    );
}

/// Waits until pg_stat_activity shows a session of the app role from `address`.
async fn wait_for_session(run: &Run, address: &str) {
    let deployment = run.deployment();
    let options = deployment
        .connect_options(&deployment.superuser)
        .disable_statement_logging();
    let mut connection = match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!("connecting as the superuser failed: {error}"))
        ),
    };
    let deadline = Instant::now() + SESSION_TIMEOUT;
    loop {
        let sessions: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_catalog.pg_stat_activity \
             WHERE usename = $1 AND host(client_addr) = $2",
        )
        .bind(&deployment.app.role)
        .bind(address)
        .fetch_one(&mut connection)
        .await
        .expect("pg_stat_activity should be readable by the superuser");
        if sessions > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the intruder's session from {address} did not appear in pg_stat_activity within \
             {SESSION_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    connection.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_passes() {
    let result = in_run(production_like(), async |run| {
        start_app(run).await;
        access_isolation::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_flags_published_port() {
    let result = in_run(test_only(), async |run| {
        start_app(run).await;
        access_isolation::run(run).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.message.starts_with("Postgres container lv-pg-")
            && result
                .message
                .contains("publishes 5432/tcp on host address 127.0.0.1:"),
        "the message should name the published port: {}",
        describe(&result)
    );
    assert_finding(&result, "logged in at lv-pg-");
    assert_finding(
        &result,
        "as role lv_migrator with the role's password; pg_hba.conf must accept role \
         lv_migrator only from the harness's address",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_flags_intruder_session() {
    let result = in_run(production_like(), async |run| {
        start_app(run).await;
        let network = run
            .network_name()
            .expect("the run has a network")
            .to_owned();
        let intruder = step_string(
            outsider::Outsider::start(run, "intruder", &network).await,
            "starting the intruder",
        );
        let postgres = run.postgres().expect("Postgres runs").name().to_owned();
        let deployment = run.deployment().clone();
        let login = outsider::Login {
            host: &postgres,
            port: harness::postgres::PORT,
            role: &deployment.app.role,
            password: &deployment.app.password,
            database: DATABASE,
        };
        step_string(
            intruder.hold_session(&login, "SELECT pg_sleep(120)").await,
            "opening the intruder's session",
        );
        let address = step_string(
            intruder.address(run.docker()).await,
            "reading the intruder's address",
        );
        wait_for_session(run, &address).await;

        let result = access_isolation::run(run).await;
        (result, address)
    })
    .await;
    let (result, address) = result;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_finding(
        &result,
        &format!("pg_stat_activity showed role lv_app connected from {address}"),
    );
}

fn step_string<T>(result: Result<T, String>, step: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!("{step} failed: {error}"))
        ),
    }
}
