//! Classification of sqlx errors by SQLSTATE, so that handlers can respond
//! without exposing database detail.

/// Category of a failed database call, which decides the HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// 23505: a unique constraint or index rejected the row.
    UniqueViolation,
    /// 23503: a foreign key rejected the row, or a delete still referenced by
    /// another row (ON DELETE RESTRICT).
    ForeignKeyViolation,
    /// Class 22 (data exception) or another class 23 integrity violation: the
    /// values broke a rule that the app should have checked first.
    InvalidData,
    /// The database cannot serve the request now: unreachable, pool timed out,
    /// statement timeout (57014), shutdown, too many connections, login
    /// rejected, serialization failure, or a schema that is not there yet.
    Unavailable,
    /// Anything else: a bug or a missing grant.
    Other,
}

/// A failed database call. `Display` contains the driver's message, the
/// SQLSTATE and the constraint, for the log only; it never reaches a client.
/// The sqlx error is part of the message rather than a `source()`, so that
/// a printed error chain does not repeat it.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} database error: {error}{}", describe_database_error(error))]
pub struct DbError {
    pub kind: DbErrorKind,
    pub error: sqlx::Error,
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        let kind = classify(&error);
        #[cfg(feature = "failpoints")]
        crate::faults::note_database_error(kind);
        Self { kind, error }
    }
}

/// Classifies an error without looking at its message text.
pub fn classify(error: &sqlx::Error) -> DbErrorKind {
    match error {
        sqlx::Error::Database(database_error) => match database_error.code() {
            Some(code) => classify_sqlstate(&code),
            None => DbErrorKind::Other,
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => DbErrorKind::Unavailable,
        _ => DbErrorKind::Other,
    }
}

/// Classifies a Postgres SQLSTATE (PostgreSQL 15, Appendix A "Error Codes").
pub fn classify_sqlstate(code: &str) -> DbErrorKind {
    match code {
        "23505" => DbErrorKind::UniqueViolation,
        "23503" => DbErrorKind::ForeignKeyViolation,
        // 42P01 undefined_table, 42703 undefined_column: the schema is behind
        // the app, which /readyz also reports.
        "42P01" | "42703" => DbErrorKind::Unavailable,
        // 57014 query_canceled (statement_timeout); 57P01..57P03 shutdown and
        // "cannot connect now". Other class 57 codes are operator actions too.
        _ if code.starts_with("57") => DbErrorKind::Unavailable,
        _ if code.starts_with("22") || code.starts_with("23") => DbErrorKind::InvalidData,
        // 08 connection exception, 28 invalid authorization (a rotated
        // password), 3D invalid catalog name, 40 transaction rollback
        // (serialization failure, deadlock), 53 insufficient resources.
        _ if ["08", "28", "3D", "40", "53"]
            .iter()
            .any(|class| code.starts_with(class)) =>
        {
            DbErrorKind::Unavailable
        }
        _ => DbErrorKind::Other,
    }
}

fn describe_database_error(error: &sqlx::Error) -> String {
    let Some(database_error) = error.as_database_error() else {
        return String::new();
    };
    let code = database_error.code().unwrap_or_default();
    let constraint = database_error.constraint().unwrap_or("none");
    format!(" (SQLSTATE {code}, constraint {constraint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_classify() {
        let cases = [
            ("23505", DbErrorKind::UniqueViolation),
            ("23503", DbErrorKind::ForeignKeyViolation),
            ("23514", DbErrorKind::InvalidData),
            ("23502", DbErrorKind::InvalidData),
            ("22001", DbErrorKind::InvalidData),
            ("22P02", DbErrorKind::InvalidData),
            ("57014", DbErrorKind::Unavailable),
            ("57P01", DbErrorKind::Unavailable),
            ("08006", DbErrorKind::Unavailable),
            ("28P01", DbErrorKind::Unavailable),
            ("3D000", DbErrorKind::Unavailable),
            ("40001", DbErrorKind::Unavailable),
            ("53300", DbErrorKind::Unavailable),
            ("42P01", DbErrorKind::Unavailable),
            ("42501", DbErrorKind::Other),
            ("XX000", DbErrorKind::Other),
        ];
        for (code, expected) in cases {
            assert_eq!(classify_sqlstate(code), expected, "SQLSTATE {code}");
        }
    }

    #[test]
    fn pool_timeout_is_unavailable() {
        assert_eq!(
            classify(&sqlx::Error::PoolTimedOut),
            DbErrorKind::Unavailable
        );
    }

    #[test]
    fn io_error_is_unavailable() {
        let error = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());

        assert_eq!(classify(&error), DbErrorKind::Unavailable);
    }

    #[test]
    fn row_not_found_is_other() {
        assert_eq!(classify(&sqlx::Error::RowNotFound), DbErrorKind::Other);
    }
}
