//! The catalogue: one request for each class of error, and the response the contract gives it.
//!
//! The app checks most invalid input before any statement runs, so several classes never reach
//! Postgres: a request for them checks the app's own message. The unique, foreign key and check
//! violations reach the database (the email `@x@example.test` passes the app's email rule and
//! breaks the `users_email_check` constraint). The server-side faults are real: see
//! [`faults`](super::faults).

use reqwest::Method;
use serde_json::{Value, json};

/// Group of error classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// A constraint of the schema rejects the row.
    Constraint,
    /// A value the database could not store or parse.
    InvalidInput,
    /// The database cannot serve the request.
    ServerFault,
    /// The HTTP request itself is wrong.
    Protocol,
}

/// A class of error the catalogue provokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    UniqueViolation,
    ForeignKeyViolation,
    CheckViolation,
    NotNullViolation,
    InvalidTextRepresentation,
    NumericOutOfRange,
    StringTooLong,
    NulCharacter,
    MalformedUuid,
    StatementTimeout,
    DatabaseUnreachable,
    PoolExhausted,
    UnknownRoute,
    WrongMethod,
    OversizedBody,
    MalformedJson,
    UnsupportedMediaType,
}

impl ErrorClass {
    /// Every class, in the order the catalogue sends them. The server faults come last, and
    /// the unreachable database last of all, because it restarts Postgres.
    pub const ALL: [ErrorClass; 17] = [
        ErrorClass::UniqueViolation,
        ErrorClass::ForeignKeyViolation,
        ErrorClass::CheckViolation,
        ErrorClass::NotNullViolation,
        ErrorClass::InvalidTextRepresentation,
        ErrorClass::NumericOutOfRange,
        ErrorClass::StringTooLong,
        ErrorClass::NulCharacter,
        ErrorClass::MalformedUuid,
        ErrorClass::UnknownRoute,
        ErrorClass::WrongMethod,
        ErrorClass::OversizedBody,
        ErrorClass::MalformedJson,
        ErrorClass::UnsupportedMediaType,
        ErrorClass::StatementTimeout,
        ErrorClass::PoolExhausted,
        ErrorClass::DatabaseUnreachable,
    ];

    /// Identifier in snake case, used in snapshot names and request ids.
    pub fn id(self) -> &'static str {
        match self {
            ErrorClass::UniqueViolation => "unique_violation",
            ErrorClass::ForeignKeyViolation => "foreign_key_violation",
            ErrorClass::CheckViolation => "check_violation",
            ErrorClass::NotNullViolation => "not_null_violation",
            ErrorClass::InvalidTextRepresentation => "invalid_text_representation",
            ErrorClass::NumericOutOfRange => "numeric_out_of_range",
            ErrorClass::StringTooLong => "string_too_long",
            ErrorClass::NulCharacter => "nul_character",
            ErrorClass::MalformedUuid => "malformed_uuid",
            ErrorClass::StatementTimeout => "statement_timeout",
            ErrorClass::DatabaseUnreachable => "database_unreachable",
            ErrorClass::PoolExhausted => "pool_exhausted",
            ErrorClass::UnknownRoute => "unknown_route",
            ErrorClass::WrongMethod => "wrong_method",
            ErrorClass::OversizedBody => "oversized_body",
            ErrorClass::MalformedJson => "malformed_json",
            ErrorClass::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// Group of the class.
    pub fn group(self) -> Group {
        match self {
            ErrorClass::UniqueViolation
            | ErrorClass::ForeignKeyViolation
            | ErrorClass::CheckViolation
            | ErrorClass::NotNullViolation => Group::Constraint,
            ErrorClass::InvalidTextRepresentation
            | ErrorClass::NumericOutOfRange
            | ErrorClass::StringTooLong
            | ErrorClass::NulCharacter
            | ErrorClass::MalformedUuid => Group::InvalidInput,
            ErrorClass::StatementTimeout
            | ErrorClass::DatabaseUnreachable
            | ErrorClass::PoolExhausted => Group::ServerFault,
            ErrorClass::UnknownRoute
            | ErrorClass::WrongMethod
            | ErrorClass::OversizedBody
            | ErrorClass::MalformedJson
            | ErrorClass::UnsupportedMediaType => Group::Protocol,
        }
    }

    /// Status and error code the contract gives this class.
    pub fn expected(self) -> (u16, &'static str) {
        match self {
            ErrorClass::UniqueViolation => (409, "conflict"),
            ErrorClass::ForeignKeyViolation => (422, "invalid_reference"),
            ErrorClass::CheckViolation
            | ErrorClass::InvalidTextRepresentation
            | ErrorClass::NumericOutOfRange
            | ErrorClass::StringTooLong
            | ErrorClass::NulCharacter => (422, "validation_failed"),
            // JSON null is a wrong shape, rejected before the database.
            ErrorClass::NotNullViolation => (400, "invalid_request"),
            ErrorClass::MalformedUuid | ErrorClass::UnknownRoute => (404, "not_found"),
            ErrorClass::StatementTimeout
            | ErrorClass::DatabaseUnreachable
            | ErrorClass::PoolExhausted => (503, "unavailable"),
            ErrorClass::WrongMethod => (405, "method_not_allowed"),
            ErrorClass::OversizedBody => (413, "payload_too_large"),
            ErrorClass::MalformedJson => (400, "malformed_json"),
            ErrorClass::UnsupportedMediaType => (415, "unsupported_media_type"),
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id().replace('_', " "))
    }
}

/// Body of a catalogue request.
#[derive(Clone, Debug)]
pub enum Body {
    /// No body.
    None,
    /// JSON, sent as `application/json`.
    Json(Value),
    /// Raw bytes with a content type.
    Raw {
        /// Value of `Content-Type`.
        content_type: &'static str,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// A request of the catalogue.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Body.
    pub body: Body,
}

/// Values the requests need: a unique suffix, an existing user's email and a UUID that names
/// nothing.
pub struct Setup {
    /// Suffix unique to the run, for emails.
    pub suffix: String,
    /// Email of a user that exists.
    pub existing_email: String,
    /// A UUID that no row has.
    pub unknown_id: String,
}

/// Body size of the oversized request: 4 KiB above the app's 64 KiB limit.
const OVERSIZED_LEN: usize = 68 * 1024;

/// Builds the request for `class`. A server fault's request is an ordinary read; the fault
/// comes from [`faults`](super::faults).
pub fn request(class: ErrorClass, setup: &Setup) -> Request {
    let user = |email: String, display_name: Value| json!({ "email": email, "display_name": display_name, "password": "catalogue-password" });
    let video = |owner_id: Value, title: Value, duration: Value| {
        json!({
            "owner_id": owner_id,
            "title": title,
            "source_language": "en",
            "duration_seconds": duration,
        })
    };
    let post = |path: &str, body: Value| Request {
        method: Method::POST,
        path: path.to_owned(),
        body: Body::Json(body),
    };
    let get = |path: String| Request {
        method: Method::GET,
        path,
        body: Body::None,
    };

    match class {
        // The same email in other case: the unique index on lower(email) rejects it.
        ErrorClass::UniqueViolation => post(
            "/v1/users",
            user(setup.existing_email.to_uppercase(), json!("Duplicate")),
        ),
        ErrorClass::ForeignKeyViolation => post(
            "/v1/videos",
            video(json!(setup.unknown_id), json!("Orphan"), json!(10)),
        ),
        // Accepted by the app's rule (something before the last '@'), rejected by the table's
        // CHECK (the first '@' must not be the first character).
        ErrorClass::CheckViolation => post(
            "/v1/users",
            user(format!("@x{}@example.test", setup.suffix), json!("Check")),
        ),
        ErrorClass::NotNullViolation => post(
            "/v1/videos",
            video(json!(setup.unknown_id), Value::Null, json!(10)),
        ),
        ErrorClass::InvalidTextRepresentation => post(
            "/v1/videos",
            video(json!("not-a-uuid"), json!("Bad owner"), json!(10)),
        ),
        // One above the maximum of a Postgres integer.
        ErrorClass::NumericOutOfRange => post(
            "/v1/videos",
            video(
                json!(setup.unknown_id),
                json!("Long"),
                json!(2_147_483_648_i64),
            ),
        ),
        ErrorClass::StringTooLong => post(
            "/v1/videos",
            video(json!(setup.unknown_id), json!("t".repeat(201)), json!(10)),
        ),
        ErrorClass::NulCharacter => post(
            "/v1/users",
            user(
                format!("nul-{}@example.test", setup.suffix),
                json!("a\u{0}b"),
            ),
        ),
        ErrorClass::MalformedUuid => get("/v1/videos/not-a-uuid".to_owned()),
        // The faults lock the users table, so these reads wait for it.
        ErrorClass::StatementTimeout | ErrorClass::DatabaseUnreachable => {
            get(format!("/v1/users/{}", setup.unknown_id))
        }
        // A read of a table that is not locked, so it fails only when no pool connection is free.
        ErrorClass::PoolExhausted => get(format!("/v1/videos/{}", setup.unknown_id)),
        ErrorClass::UnknownRoute => get("/v1/no-such-route".to_owned()),
        ErrorClass::WrongMethod => Request {
            method: Method::PUT,
            path: "/v1/users".to_owned(),
            body: Body::None,
        },
        ErrorClass::OversizedBody => {
            let padding = "x".repeat(OVERSIZED_LEN);
            post(
                "/v1/users",
                user(format!("big-{}@example.test", setup.suffix), json!(padding)),
            )
        }
        ErrorClass::MalformedJson => Request {
            method: Method::POST,
            path: "/v1/users".to_owned(),
            body: Body::Raw {
                content_type: "application/json",
                bytes: br#"{"email": "a@example.test", "display_name": "#.to_vec(),
            },
        },
        ErrorClass::UnsupportedMediaType => Request {
            method: Method::POST,
            path: "/v1/users".to_owned(),
            body: Body::Raw {
                content_type: "text/plain",
                bytes: b"email=a@example.test".to_vec(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_has_classes() {
        for group in [
            Group::Constraint,
            Group::InvalidInput,
            Group::ServerFault,
            Group::Protocol,
        ] {
            let count = ErrorClass::ALL
                .iter()
                .filter(|class| class.group() == group)
                .count();
            assert!(count >= 3, "{group:?} has {count} classes");
        }
    }

    #[test]
    fn class_ids_are_unique() {
        let mut ids: Vec<&str> = ErrorClass::ALL.iter().map(|class| class.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ErrorClass::ALL.len());
    }

    #[test]
    fn oversized_body_exceeds_the_limit() {
        let setup = Setup {
            suffix: "s".to_owned(),
            existing_email: "a@example.test".to_owned(),
            unknown_id: "6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11".to_owned(),
        };

        let request = request(ErrorClass::OversizedBody, &setup);

        let Body::Json(body) = request.body else {
            panic!("the oversized request has a JSON body");
        };
        assert!(body.to_string().len() > 64 * 1024);
    }
}
