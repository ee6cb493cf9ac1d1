//! The first start of the harness's Postgres image: by default it extracts the cluster built
//! into the image, and with POSTGRES_INITDB_ARGS it runs initdb with those arguments, as the
//! official image does. Both must accept the superuser's password and reject a wrong one.
//!
//! These tests start the Postgres image (built by images/build.sh if missing).

use harness::labels::RunId;
use harness::logs;
use harness::network;
use harness::postgres::{
    self, MAINTENANCE_DATABASE, PostgresContainer, PostgresOptions, SUPERUSER,
};
use harness::redact;
use harness::run::{Run, RunOptions, with_run};
use harness::secret::Secret;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Starts a second Postgres container in `run` with `options` and waits until it is ready.
async fn start_extra_postgres(
    run: &Run,
    suffix: &str,
    password: &Secret,
    options: &PostgresOptions,
) -> PostgresContainer {
    let id = RunId::from_label(&format!("{}-{suffix}", run.id()));
    let container = postgres::start(
        &run.config().postgres_image,
        &id,
        &network::network_name(run.id()),
        run.labels(),
        password,
        options,
    )
    .await
    .expect("the Postgres container should start");
    let port = container
        .host_port()
        .await
        .expect("5432 should be published");
    container
        .wait_until_ready(
            run.docker(),
            "127.0.0.1",
            port,
            run.config().postgres_ready_timeout,
        )
        .await
        .expect("Postgres should become ready");
    container
}

/// Returns `SHOW data_checksums` as the superuser with `password`, or the connection error.
async fn show_data_checksums(
    container: &PostgresContainer,
    password: &str,
) -> Result<String, sqlx::Error> {
    let port = container
        .host_port()
        .await
        .expect("5432 should be published");
    let mut connection = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username(SUPERUSER)
        .password(password)
        .database(MAINTENANCE_DATABASE)
        .disable_statement_logging()
        .connect()
        .await?;
    let (value,): (String,) = sqlx::query_as("SHOW data_checksums")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    Ok(value)
}

/// Starts the image with `initdb_args`, and checks its entrypoint log line, the value of
/// data_checksums and the password check of the superuser.
async fn assert_first_start(initdb_args: Option<&str>, log_line: &str, data_checksums: &str) {
    harness::logging::init(false);
    with_run(RunOptions::default(), async |run| {
        let password = Secret::generate();
        redact::register(&password);
        let options = PostgresOptions {
            publish: true,
            initdb_args: initdb_args.map(str::to_owned),
            ..PostgresOptions::default()
        };
        let container = start_extra_postgres(run, "image", &password, &options).await;

        let with_password = show_data_checksums(&container, password.expose()).await;
        let with_wrong_password = show_data_checksums(&container, "not-the-password").await;
        let container_logs = logs::read_all(run.docker(), container.id(), container.name())
            .await
            .expect("the container's logs should be readable");
        let stderr = String::from_utf8_lossy(&container_logs.stderr).into_owned();
        container
            .remove()
            .await
            .expect("the container should be removed");

        assert!(
            stderr.contains(log_line),
            "the entrypoint should log {log_line:?}, stderr was:\n{}",
            redact::redact(&stderr)
        );
        assert_eq!(
            with_password.expect("the superuser should log in with its password"),
            data_checksums,
            "SHOW data_checksums"
        );
        assert!(
            with_wrong_password.is_err(),
            "the superuser should not log in with a wrong password"
        );
    })
    .await
    .expect("the run should start and shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_extracts_built_cluster() {
    assert_first_start(
        None,
        "extracting the cluster initialized at image build time",
        "off",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initdb_args_run_initdb() {
    assert_first_start(Some("--data-checksums"), "initializing a new cluster", "on").await;
}
