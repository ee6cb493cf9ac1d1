//! LocalizeVideos data API: users, videos and their localizations over HTTP
//! and JSON, stored in PostgreSQL. Configured by environment variables and an
//! optional env file; docs/configuration.md lists them.

mod app;
mod audit;
mod config;
mod db;
mod env_file;
mod error;
mod extract;
#[cfg(feature = "failpoints")]
mod faults;
mod language_tag;
mod model;
mod pagination;
mod password;
mod readiness;
mod request_id;
mod routes;
mod secret;
mod shutdown;
mod telemetry;
mod validation;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::AppState;
use crate::config::Config;
use crate::db::Database;
use crate::password::Passwords;
use crate::readiness::ReadinessProbe;
use crate::shutdown::ShutdownSignals;

/// Exit code for an invalid configuration or env file.
const EXIT_CONFIG: u8 = 2;

/// Maximum wait for the pool to close after every request finished.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Time left to tasks still running when the runtime shuts down.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// LocalizeVideos data API. Settings come from environment variables
/// (DATABASE_URL or DB_*, LV_*, RUST_LOG); see docs/configuration.md.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// dotenv file loaded at start; its values override the process environment.
    #[arg(long, env = "LV_ENV_FILE", value_name = "PATH")]
    env_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();

    // Read and apply the env file while this is the only thread, because
    // set_var is unsound once other threads may read the environment.
    let env_file_error = match cli.env_file.as_deref().map(env_file::read).transpose() {
        Ok(pairs) => {
            // SAFETY: no runtime or other thread exists yet.
            unsafe { env_file::apply(&pairs.unwrap_or_default()) };
            None
        }
        Err(err) => Some(err),
    };

    let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    if let Some(problem) = telemetry::init(&log_filter) {
        tracing::warn!("{problem}");
    }
    if let Some(err) = env_file_error {
        tracing::error!("{err}");
        return ExitCode::from(EXIT_CONFIG);
    }

    // Reads FAILPOINTS (already merged with the env file) and keeps the
    // configured fail points active until main returns.
    #[cfg(feature = "failpoints")]
    let _fail_scenario = {
        let scenario = fail::FailScenario::setup();
        tracing::warn!(failpoints = ?fail::list(), "fail points compiled in");
        scenario
    };
    // SAFETY: no runtime or other thread exists yet.
    #[cfg(feature = "failpoints")]
    if let Err(err) = unsafe { faults::apply_cached_credentials() } {
        tracing::error!("the credentials cache fault failed: {err}");
    }

    let config = match Config::from_vars(|name| std::env::var(name)) {
        Ok(config) => config,
        Err(err) => {
            tracing::error!("invalid configuration: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(config));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    code
}

/// Serves until SIGTERM or SIGINT, then drains and closes the pool.
async fn run(config: Config) -> ExitCode {
    let mut signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(err) => {
            tracing::error!("cannot install SIGTERM and SIGINT handlers: {err}");
            return ExitCode::FAILURE;
        }
    };

    let passwords = match Passwords::new(config.argon2) {
        Ok(passwords) => passwords,
        Err(err) => {
            tracing::error!("invalid argon2 parameters: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    #[cfg(feature = "failpoints")]
    if faults::is_active(faults::STARTUP_LOG_CONNECTION_STRING) {
        tracing::info!(
            database_url = %faults::connection_string(&config.database),
            "connecting to the database"
        );
    }
    let db = match Database::connect_lazy(&config.database, &config.pool) {
        Ok(db) => db,
        Err(err) => {
            tracing::error!("invalid database settings: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    // The first readiness check runs in the background, so start-up does
    // not wait for the database. It only logs the state it finds.
    let readiness = Arc::new(ReadinessProbe::new(db.clone()));
    tokio::spawn({
        let readiness = Arc::clone(&readiness);
        async move {
            readiness.check().await;
        }
    });

    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(
                "cannot listen on {}: {err}; set LV_LISTEN to a free address",
                config.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |address| address.to_string());
    tracing::info!(address = %address, "listening");

    let state = AppState {
        db: db.clone(),
        passwords: Arc::new(passwords),
        readiness,
    };
    let (stop_sender, stop_receiver) = oneshot::channel::<()>();
    let server = axum::serve(listener, app::router(state)).with_graceful_shutdown(async move {
        // A dropped sender also stops the server.
        let _ = stop_receiver.await;
    });
    let mut server_task = tokio::spawn(server.into_future());

    let signal_name = tokio::select! {
        name = signals.recv() => name,
        result = &mut server_task => {
            tracing::error!(result = ?result, "HTTP server stopped without a shutdown signal");
            db.close().await;
            return ExitCode::FAILURE;
        }
    };

    let grace = config.shutdown_grace;
    tracing::info!(
        signal = signal_name,
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections, waiting for in-flight requests"
    );
    let _ = stop_sender.send(());

    #[cfg(feature = "failpoints")]
    if faults::is_active(faults::SHUTDOWN_SKIP_DRAIN) {
        server_task.abort();
        return ExitCode::SUCCESS;
    }
    let drained = shutdown::drain(&mut server_task, &mut signals, grace).await;

    if drained {
        tracing::info!("in-flight requests finished");
        close_pool(&db).await;
    } else {
        // Waiting for the pool would wait for the abandoned requests. Their
        // tasks end with the runtime, which drops their connections, and
        // Postgres rolls back their open transactions.
        server_task.abort();
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Closes the pool, waiting at most [`POOL_CLOSE_TIMEOUT`].
async fn close_pool(db: &Database) {
    if tokio::time::timeout(POOL_CLOSE_TIMEOUT, db.close())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_ms = POOL_CLOSE_TIMEOUT.as_millis() as u64,
            "database pool did not close in time; its connections are dropped at exit"
        );
    } else {
        tracing::info!("database pool closed");
    }
}
