//! Text of database errors for findings and messages. sqlx 0.9.1 renders a Postgres error as
//! its message followed by ` at line N`, where N is a line of the PostgreSQL server's C source
//! (the `L` field of the error response). Next to a migration file name that reads as a line of
//! the migration, so this module drops it and keeps the position within the query instead.
//! It also removes the `error with configuration: ` prefix that sqlx 0.9.1 doubles when it
//! wraps a parse error of a connection URL (such as an unknown `sslmode`).

use std::error::Error as StdError;

use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

/// Renders `error` as `to_string` does, without the server's source line and the doubled
/// configuration prefix, and with the position of the error in the query when Postgres sends
/// one.
pub fn error_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = current {
        if let Some(database_error) = postgres_error(cause) {
            text = without_server_line(&text, database_error);
        }
        current = cause.source();
    }
    undouble_configuration_prefix(&text)
}

/// Returns the Postgres error that `error` is or wraps directly, if any.
fn postgres_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a PgDatabaseError> {
    if let Some(postgres) = error.downcast_ref::<PgDatabaseError>() {
        return Some(postgres);
    }
    error
        .downcast_ref::<sqlx::Error>()?
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()
}

/// Replaces `"<message> at line N"` in `text` with the message and the error's position in
/// the query, when Postgres reported one.
fn without_server_line(text: &str, error: &PgDatabaseError) -> String {
    let Some(line) = error.line() else {
        return text.to_owned();
    };
    let rendered = format!("{} at line {line}", error.message());
    let replacement = match error.position() {
        Some(PgErrorPosition::Original(position)) => {
            format!("{} (at character {position} of the query)", error.message())
        }
        _ => error.message().to_owned(),
    };
    text.replacen(&rendered, &replacement, 1)
}

fn undouble_configuration_prefix(text: &str) -> String {
    const PREFIX: &str = "error with configuration: ";
    let doubled = format!("{PREFIX}{PREFIX}");
    text.replace(&doubled, PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_prefix_appears_once() {
        let inner = sqlx::Error::Configuration("unknown value \"x\" for `ssl_mode`".into());
        let outer = sqlx::Error::Configuration(Box::new(inner));

        assert_eq!(
            error_text(&outer),
            "error with configuration: unknown value \"x\" for `ssl_mode`"
        );
    }

    #[test]
    fn other_error_is_unchanged() {
        let error = sqlx::Error::PoolTimedOut;

        assert_eq!(error_text(&error), error.to_string());
    }
}
