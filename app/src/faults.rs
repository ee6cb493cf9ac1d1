//! Deliberate faults for the harness's self-tests. This module exists only in builds with the
//! `failpoints` feature, and FAILPOINTS selects the faults at start (`name=return`). Each fault
//! breaks one rule that a harness check must catch, except `video.create.slow`, which only
//! slows creates down for another fault's self-test. docs/http-contract.md lists them.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::config::DatabaseConfig;
use crate::db::DbErrorKind;
use crate::readiness::Readiness;

/// `GET /v1/users` nests each user's password hash in the item, as `security.password_hash`.
pub const USER_LIST_NESTED_HASH: &str = "user.list.nested_hash";
/// Error responses caused by a database error carry the database error's text as message.
pub const ERROR_DATABASE_MESSAGE: &str = "error.database_message";
/// The app logs its connection string, password included, when it starts.
pub const STARTUP_LOG_CONNECTION_STRING: &str = "startup.log_connection_string";
/// The audit row of a user create or update stores the whole `users` row in `entity`, password
/// hash included, in place of the API's representation of the user.
pub const AUDIT_USER_STORES_FULL_ROW: &str = "audit.user.store_full_row";

/// After the first database error that makes the database unavailable (a lost connection, a
/// refused connect, a pool timeout, a server shutdown), the pool rejects every new connection,
/// so the app never recovers without a restart.
pub const DATABASE_NEVER_RECONNECT: &str = "database.never_reconnect";

/// `POST /v1/videos` returns 201 before its transaction commits. A background task commits
/// [`DEFERRED_COMMIT_DELAY`] later, so a crash of the app in between rolls the acknowledged
/// video back.
pub const VIDEO_CREATE_COMMIT_AFTER_RESPONSE: &str = "video.create.commit_after_response";

/// `POST /v1/videos` waits [`VIDEO_CREATE_SLOW_DELAY`] in its transaction before the commit, so
/// that a load always has requests in flight.
pub const VIDEO_CREATE_SLOW: &str = "video.create.slow";

/// Wait of a create under [`VIDEO_CREATE_SLOW`].
pub const VIDEO_CREATE_SLOW_DELAY: Duration = Duration::from_secs(2);

/// `POST /v1/videos` inserts the video a second time when the first insert took longer than
/// [`SLOW_CREATE_THRESHOLD`]: a retry on a suspected timeout that ignores that the first insert
/// committed, so a slow database duplicates the video.
pub const VIDEO_CREATE_RETRY_SLOW: &str = "video.create.retry_slow";

/// Duration of a create above which [`VIDEO_CREATE_RETRY_SLOW`] inserts again.
const SLOW_CREATE_THRESHOLD: Duration = Duration::from_millis(100);

/// On SIGTERM or SIGINT the app exits at once with status 0, without waiting for the requests
/// in flight and without logging that it abandons them.
pub const SHUTDOWN_SKIP_DRAIN: &str = "shutdown.skip_drain";

/// Delay of the commit under [`VIDEO_CREATE_COMMIT_AFTER_RESPONSE`].
const DEFERRED_COMMIT_DELAY: Duration = Duration::from_millis(500);

/// Once `/readyz` has returned ready, it returns the same result again without reading the
/// database, so it stays 200 while the database is unreachable.
pub const READINESS_CACHED: &str = "readiness.cached";

/// Schema version of the first ready result under [`READINESS_CACHED`], or -1 before it.
static CACHED_SCHEMA_VERSION: AtomicI64 = AtomicI64::new(-1);

/// Whether an unavailable database has been seen, for [`DATABASE_NEVER_RECONNECT`].
static DATABASE_LOST: AtomicBool = AtomicBool::new(false);

/// At its first start the app writes `DB_PASSWORD` to [`CREDENTIALS_CACHE`], and at every later
/// start in the same container it uses the cached password in place of the environment's.
pub const CONFIG_CACHED_CREDENTIALS: &str = "config.cached_credentials";

/// File of the cached password for [`CONFIG_CACHED_CREDENTIALS`]. The app's user can write
/// `/tmp`, and the file lives as long as the container.
const CREDENTIALS_CACHE: &str = "/tmp/localizevideos-credentials";

/// Returns whether the fail point `name` is configured.
pub fn is_active(name: &str) -> bool {
    fail::eval(name, |_| ()).is_some()
}

/// Builds the connection string the app uses, password included, for the fault that logs it.
pub fn connection_string(database: &DatabaseConfig) -> String {
    match database {
        DatabaseConfig::Url(url) => url.expose().to_owned(),
        DatabaseConfig::Parts {
            host,
            port,
            name,
            user,
            password,
        } => {
            let password = password.as_ref().map_or("", |password| password.expose());
            format!("postgres://{user}:{password}@{host}:{port}/{name}")
        }
    }
}

/// Notes a database error of `kind`, for [`DATABASE_NEVER_RECONNECT`].
pub fn note_database_error(kind: DbErrorKind) {
    if kind == DbErrorKind::Unavailable
        && is_active(DATABASE_NEVER_RECONNECT)
        && !DATABASE_LOST.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            failpoint = DATABASE_NEVER_RECONNECT,
            "database unavailable; the pool now rejects every new connection"
        );
    }
}

/// Returns an error when [`DATABASE_NEVER_RECONNECT`] is active and the database has been
/// unavailable once, so that the pool discards the new connection.
pub fn reject_new_connection() -> Result<(), sqlx::Error> {
    if DATABASE_LOST.load(Ordering::Relaxed) && is_active(DATABASE_NEVER_RECONNECT) {
        return Err(sqlx::Error::Protocol(format!(
            "fail point {DATABASE_NEVER_RECONNECT} rejects new connections"
        )));
    }
    Ok(())
}

/// Commits `transaction` after [`DEFERRED_COMMIT_DELAY`] in a background task, for
/// [`VIDEO_CREATE_COMMIT_AFTER_RESPONSE`]. A failed commit is logged.
pub fn commit_later(transaction: sqlx::Transaction<'static, sqlx::Postgres>) {
    tokio::spawn(async move {
        tokio::time::sleep(DEFERRED_COMMIT_DELAY).await;
        if let Err(error) = transaction.commit().await {
            tracing::error!(
                failpoint = VIDEO_CREATE_COMMIT_AFTER_RESPONSE,
                "deferred commit of a created video failed: {error}"
            );
        }
    });
}

/// Returns the cached ready result while [`READINESS_CACHED`] is active and a check has been
/// ready once.
pub fn cached_readiness() -> Option<Readiness> {
    if !is_active(READINESS_CACHED) {
        return None;
    }
    let schema_version = CACHED_SCHEMA_VERSION.load(Ordering::Relaxed);
    (schema_version >= 0).then_some(Readiness::Ready { schema_version })
}

/// Caches `readiness` for [`READINESS_CACHED`] when it is ready.
pub fn remember_readiness(readiness: &Readiness) {
    if let Readiness::Ready { schema_version } = readiness
        && is_active(READINESS_CACHED)
    {
        CACHED_SCHEMA_VERSION.store(*schema_version, Ordering::Relaxed);
    }
}

/// Returns whether [`VIDEO_CREATE_RETRY_SLOW`] is active and a create that took `elapsed` is
/// to be inserted again.
pub fn retries_slow_create(elapsed: Duration) -> bool {
    elapsed > SLOW_CREATE_THRESHOLD && is_active(VIDEO_CREATE_RETRY_SLOW)
}
/// Applies [`CONFIG_CACHED_CREDENTIALS`]: replaces `DB_PASSWORD` with the cached password, or
/// caches the current one when no cache exists yet.
///
/// # Safety
///
/// No other thread may exist, because this may set an environment variable (see
/// [`crate::env_file::apply`]).
pub unsafe fn apply_cached_credentials() -> std::io::Result<()> {
    if !is_active(CONFIG_CACHED_CREDENTIALS) {
        return Ok(());
    }
    match std::fs::read_to_string(CREDENTIALS_CACHE) {
        Ok(cached) => {
            // SAFETY: the caller guarantees that this is the only thread.
            unsafe { std::env::set_var("DB_PASSWORD", cached) };
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::env::var("DB_PASSWORD") {
                Ok(password) => std::fs::write(CREDENTIALS_CACHE, password),
                Err(_) => Ok(()),
            }
        }
        Err(error) => Err(error),
    }
}
