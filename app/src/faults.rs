//! Deliberate faults for the harness's self-tests. This module exists only in builds with the
//! `failpoints` feature, and FAILPOINTS selects the faults at start (`name=return`). Each fault
//! breaks one rule that a harness check must catch; docs/http-contract.md lists them.

use crate::audit::Actor;
use crate::config::DatabaseConfig;

/// `GET /v1/users` nests each user's password hash in the item, as `security.password_hash`.
pub const USER_LIST_NESTED_HASH: &str = "user.list.nested_hash";
/// Error responses caused by a database error carry the database error's text as message.
pub const ERROR_DATABASE_MESSAGE: &str = "error.database_message";
/// The app logs its connection string, password included, when it starts.
pub const STARTUP_LOG_CONNECTION_STRING: &str = "startup.log_connection_string";
/// The audit row of a user create, or of an update that sets a password, stores the user's
/// password hash in `actor`. That is the only free-text column of `audit_log`, and its
/// 100-character limit leaves no room for the rest of the row.
pub const AUDIT_USER_STORES_HASH: &str = "audit.user.store_hash";

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

/// Returns the actor to store for a user change: the password hash while
/// [`AUDIT_USER_STORES_HASH`] is active, else `actor`.
pub fn audit_actor(actor: &Actor, password_hash: Option<&str>) -> Actor {
    match password_hash {
        Some(hash) if is_active(AUDIT_USER_STORES_HASH) => Actor::from_stored(hash.to_owned()),
        _ => actor.clone(),
    }
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
