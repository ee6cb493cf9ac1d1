//! Deliberate faults for the harness's self-tests. This module exists only in builds with the
//! `failpoints` feature, and FAILPOINTS selects the faults at start (`name=return`). Each fault
//! breaks one rule that a harness check must catch; docs/http-contract.md lists them.

use crate::config::DatabaseConfig;

/// `GET /v1/users` nests each user's password hash in the item, as `security.password_hash`.
pub const USER_LIST_NESTED_HASH: &str = "user.list.nested_hash";
/// Error responses caused by a database error carry the database error's text as message.
pub const ERROR_DATABASE_MESSAGE: &str = "error.database_message";
/// The app logs its connection string, password included, when it starts.
pub const STARTUP_LOG_CONNECTION_STRING: &str = "startup.log_connection_string";
/// The audit row of a user create or update stores the whole `users` row in `entity`, password
/// hash included, in place of the API's representation of the user.
pub const AUDIT_USER_STORES_FULL_ROW: &str = "audit.user.store_full_row";

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
