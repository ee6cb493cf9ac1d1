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
