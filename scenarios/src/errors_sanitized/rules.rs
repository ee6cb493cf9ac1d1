//! The rule every error response must follow: the documented shape, and nothing in it that
//! comes from the database, the driver or the server's internals.

use std::sync::LazyLock;

use harness::scan::Scanner;
use regex::Regex;
use reqwest::StatusCode;
use serde_json::Value;

/// Error codes of the HTTP contract and the status each one goes with.
pub const CODES: &[(&str, u16)] = &[
    ("malformed_json", 400),
    ("invalid_request", 400),
    ("invalid_credentials", 401),
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("conflict", 409),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("validation_failed", 422),
    ("invalid_reference", 422),
    ("internal", 500),
    ("unavailable", 503),
];

/// Names the contract lets a message use: request fields, query parameters and resource words.
/// Column names among them are not flagged.
const API_WORDS: &[&str] = &[
    "id",
    "email",
    "display_name",
    "password",
    "created_at",
    "updated_at",
    "owner_id",
    "title",
    "source_language",
    "duration_seconds",
    "status",
    "video_id",
    "target_language",
    "kind",
    "user_id",
    "items",
    "limit",
    "offset",
    "total",
];

/// SQL keywords and bind parameters, in the upper case the app's statements use.
static SQL_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b(?:SELECT|INSERT\s+INTO|UPDATE\s+[A-Za-z_"]+\s+SET|DELETE\s+FROM|RETURNING|WHERE|VALUES|JOIN|GROUP\s+BY|ORDER\s+BY|COALESCE|GREATEST|BEGIN|COMMIT|ROLLBACK)\b|\$[0-9]{1,3}\b"#,
    )
    .expect("valid regex")
});

/// Five-character tokens shaped like a SQLSTATE, filtered by [`is_sqlstate`].
static SQLSTATE_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bsqlstate\b|\b[0-9A-Z]{5}\b").expect("valid regex"));

/// SQLSTATE classes of PostgreSQL 15 (Appendix A, "PostgreSQL Error Codes").
const SQLSTATE_CLASSES: &[&str] = &[
    "00", "01", "02", "03", "08", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "20", "21", "22", "23",
    "24", "25", "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "40", "42",
    "44", "53", "54", "55", "57", "58", "72", "F0", "HV", "P0", "XX",
];

/// Phrases of Postgres server messages and of the sqlx driver's errors (lower case).
const DRIVER_PHRASES: &[&str] = &[
    "duplicate key",
    "violates",
    "constraint",
    "relation \"",
    "syntax error",
    "invalid input syntax",
    "invalid input value",
    "out of range for",
    "value too long",
    "null value in column",
    "canceling statement",
    "statement timeout",
    "pool timed out",
    "error returned from database",
    "error communicating with database",
    "error occurred while",
    "connection refused",
    "connection reset",
    "broken pipe",
    "failed to lookup address",
    "name or service not known",
    "os error",
    "sqlx",
    "postgres",
    "tokio",
    "error:",
    "detail:",
    "hint:",
    "key (",
    "invalid byte sequence",
    "database error",
    "pooltimedout",
    "rownotfound",
    "columndecode",
    "database(",
    "io error",
];

/// Stack traces, source paths and Rust item paths.
static STACK_TRACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"panicked at|stack backtrace|RUST_BACKTRACE|\.rs:[0-9]+|\b[A-Za-z0-9_/.-]+\.rs\b|(?:^|[\s"'(=])/(?:usr|home|root|src|app|work|rustc|cargo|build|tmp|var|etc)/|\b[a-z_][a-z0-9_]*::[a-z_][a-z0-9_]*"#,
    )
    .expect("valid regex")
});

/// IPv4 addresses.
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b").expect("valid regex"));

/// Values of the run that no error body may contain.
pub struct Forbidden {
    /// Names from the database catalog that are flagged anywhere: constraints, indexes,
    /// sequences, and tables and columns whose names are not words of the API.
    pub identifiers: Vec<String>,
    /// Every table and column name, flagged when quoted (`"users"`) or qualified
    /// (`public.users`, `users.email`).
    pub relations: Vec<String>,
    /// Host names and addresses of the database: container name and IP addresses.
    pub hosts: Vec<String>,
    /// Ports of the database: the container port and the published one.
    pub ports: Vec<u16>,
    /// Database role names.
    pub roles: Vec<String>,
    /// Scanner for secrets: role passwords, connection strings, password hashes.
    pub secrets: Scanner,
}

impl Forbidden {
    /// Sorts catalog names into [`Forbidden::identifiers`] and [`Forbidden::relations`].
    /// `names` contains (name, is a table or column) pairs.
    pub fn split_catalog_names(names: &[(String, bool)]) -> (Vec<String>, Vec<String>) {
        let mut identifiers = Vec::new();
        let mut relations = Vec::new();
        for (name, is_table_or_column) in names {
            if *is_table_or_column {
                relations.push(name.clone());
                if name.contains('_') && !API_WORDS.contains(&name.as_str()) {
                    identifiers.push(name.clone());
                }
            } else {
                identifiers.push(name.clone());
            }
        }
        identifiers.sort();
        identifiers.dedup();
        relations.sort();
        relations.dedup();
        (identifiers, relations)
    }
}

/// An error response as received.
pub struct ErrorResponse<'a> {
    /// HTTP status.
    pub status: StatusCode,
    /// `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// `X-Request-Id` header.
    pub request_id: Option<&'a str>,
    /// Body text.
    pub body: &'a str,
}

/// One broken rule: which rule, in which part of the body, and the text that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule, such as `contains a constraint name`.
    pub rule: &'static str,
    /// Where: `Content-Type`, `body`, `error.message`.
    pub part: &'static str,
    /// The offending text, redacted where it is a secret.
    pub evidence: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: `{}`", self.part, self.rule, self.evidence)
    }
}

/// Returns every rule that `response` breaks, shape rules first.
pub fn check(response: &ErrorResponse<'_>, forbidden: &Forbidden) -> Vec<Violation> {
    let mut violations = check_shape(response);

    let json: Option<Value> = serde_json::from_str(response.body).ok();
    let texts: Vec<(&'static str, String)> = match &json {
        Some(body) => ["code", "message"]
            .into_iter()
            .filter_map(|field| {
                let text = body.pointer(&format!("/error/{field}"))?.as_str()?;
                let part = if field == "code" {
                    "error.code"
                } else {
                    "error.message"
                };
                Some((part, text.to_owned()))
            })
            .collect(),
        // A body that is not JSON is checked as a whole.
        None => vec![("body", response.body.to_owned())],
    };
    for (part, text) in &texts {
        violations.extend(check_text(part, text, forbidden));
    }

    // Secrets anywhere in the body, the request id left out: a generated request id is a UUID,
    // which no format matches, but a client may send its own.
    let body = match response.request_id {
        Some(id) if !id.is_empty() => response.body.replace(id, "[request_id]"),
        _ => response.body.to_owned(),
    };
    for finding in forbidden.secrets.scan_text("body", &body) {
        violations.push(Violation {
            rule: "contains a secret",
            part: "body",
            evidence: format!("{}: {}", finding.label, finding.excerpt),
        });
    }
    violations
}

/// Checks the documented shape: `{"error":{"code":C,"message":M,"request_id":R}}` as JSON, with
/// a documented code that goes with the status and the request id of the `X-Request-Id` header.
fn check_shape(response: &ErrorResponse<'_>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let shape = |evidence: String, part| Violation {
        rule: "does not have the documented error shape",
        part,
        evidence,
    };

    let content_type = response.content_type.unwrap_or("(none)");
    if !content_type.starts_with("application/json") {
        violations.push(shape(content_type.to_owned(), "Content-Type"));
    }

    let Ok(json) = serde_json::from_str::<Value>(response.body) else {
        violations.push(shape("body is not JSON".to_owned(), "body"));
        return violations;
    };
    let keys = |value: &Value| -> Vec<String> {
        value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default()
    };
    if keys(&json) != ["error"] {
        violations.push(shape(format!("top-level keys {:?}", keys(&json)), "body"));
        return violations;
    }
    let error = &json["error"];
    if keys(error) != ["code", "message", "request_id"] {
        violations.push(shape(format!("keys {:?}", keys(error)), "error"));
    }
    for field in ["code", "message", "request_id"] {
        if !error.get(field).is_some_and(Value::is_string) {
            violations.push(shape(format!("`{field}` is not a string"), "error"));
        }
    }

    let code = error
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match CODES.iter().find(|(known, _)| *known == code) {
        None => violations.push(shape(format!("undocumented code {code:?}"), "error.code")),
        Some((_, status)) if *status != response.status.as_u16() => violations.push(shape(
            format!(
                "code {code:?} goes with {status}, not {}",
                response.status.as_u16()
            ),
            "error.code",
        )),
        Some(_) => {}
    }

    let body_id = error.get("request_id").and_then(Value::as_str);
    if body_id.is_none() || body_id != response.request_id {
        violations.push(shape(
            format!(
                "request_id {body_id:?} differs from X-Request-Id {:?}",
                response.request_id
            ),
            "error.request_id",
        ));
    }
    violations
}

/// Checks one text of the body (code or message) for internals.
fn check_text(part: &'static str, text: &str, forbidden: &Forbidden) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut flag = |rule: &'static str, evidence: &str| {
        violations.push(Violation {
            rule,
            part,
            evidence: harness::redact::redact(evidence),
        });
    };

    if let Some(found) = SQL_TEXT.find(text) {
        flag("contains SQL text", found.as_str());
    }
    if let Some(name) = find_identifier(text, forbidden) {
        flag("contains a table, column, constraint or index name", &name);
    }
    // The code itself is the better evidence; the word SQLSTATE alone counts too.
    let tokens: Vec<&str> = SQLSTATE_TOKEN
        .find_iter(text)
        .map(|found| found.as_str())
        .collect();
    let sqlstate = tokens.iter().find(|token| is_sqlstate(token)).or_else(|| {
        tokens
            .iter()
            .find(|token| token.eq_ignore_ascii_case("sqlstate"))
    });
    if let Some(code) = sqlstate {
        flag("contains a SQLSTATE code", code);
    }
    let lower = text.to_lowercase();
    if let Some(phrase) = DRIVER_PHRASES.iter().find(|phrase| lower.contains(*phrase)) {
        flag("contains text from the driver or from Postgres", phrase);
    }
    if let Some(found) = STACK_TRACE.find(text) {
        flag(
            "contains a stack trace or source path",
            found.as_str().trim(),
        );
    }
    if let Some(host) = find_host(text, forbidden) {
        flag(
            "contains the database's host name, IP address or port",
            &host,
        );
    }
    if let Some(role) = forbidden
        .roles
        .iter()
        .find(|role| contains_word(text, role))
    {
        flag("contains a role name", role);
    }
    violations
}

/// Returns whether `token` is shaped like a SQLSTATE: a known class and at least three digits.
fn is_sqlstate(token: &str) -> bool {
    token.len() == 5
        && SQLSTATE_CLASSES.contains(&&token[..2])
        && token.chars().filter(char::is_ascii_digit).count() >= 3
}

fn find_identifier(text: &str, forbidden: &Forbidden) -> Option<String> {
    if let Some(name) = forbidden
        .identifiers
        .iter()
        .find(|name| contains_word(text, name))
    {
        return Some(name.clone());
    }
    forbidden.relations.iter().find_map(|name| {
        let quoted = format!("\"{name}\"");
        let qualified_prefix = format!("{name}.");
        let qualified_suffix = format!(".{name}");
        if text.contains(&quoted) {
            return Some(quoted);
        }
        [qualified_prefix, qualified_suffix]
            .into_iter()
            .find(|form| contains_word(text, form))
    })
}

fn find_host(text: &str, forbidden: &Forbidden) -> Option<String> {
    if let Some(host) = forbidden
        .hosts
        .iter()
        .find(|host| text.contains(host.as_str()))
    {
        return Some(host.clone());
    }
    if let Some(address) = IPV4.find(text) {
        return Some(address.as_str().to_owned());
    }
    if contains_word(&text.to_lowercase(), "localhost") {
        return Some("localhost".to_owned());
    }
    forbidden
        .ports
        .iter()
        .map(u16::to_string)
        .find(|port| contains_word(text, port))
}

/// Returns whether `word` occurs in `text` with no letter, digit or `_` on either side.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = text.as_bytes();
    let starts_word = word
        .as_bytes()
        .first()
        .is_some_and(|&byte| is_word_byte(byte));
    let ends_word = word
        .as_bytes()
        .last()
        .is_some_and(|&byte| is_word_byte(byte));
    text.match_indices(word).any(|(start, _)| {
        let end = start + word.len();
        let before_ok = !starts_word || start == 0 || !is_word_byte(bytes[start - 1]);
        let after_ok = !ends_word || end == bytes.len() || !is_word_byte(bytes[end]);
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use harness::scan::{Canary, credential_formats, password_hash_formats};
    use harness::secret::Secret;

    use super::*;

    const APP_PASSWORD: &str = "Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe";
    const REQUEST_ID: &str = "0f3b9e06-a8eb-49f1-8887-d9331da59043";

    fn forbidden() -> Forbidden {
        let names: Vec<(String, bool)> = [
            ("users", true),
            ("email", true),
            ("password_hash", true),
            ("audit_log", true),
            ("users_email_lower_key", false),
            ("videos_owner_id_fkey", false),
        ]
        .iter()
        .map(|(name, table_or_column)| ((*name).to_owned(), *table_or_column))
        .collect();
        let (identifiers, relations) = Forbidden::split_catalog_names(&names);
        let mut formats = credential_formats();
        formats.extend(password_hash_formats());
        Forbidden {
            identifiers,
            relations,
            hosts: vec![
                "lv-pg-20250114-093015-k3x9qa".to_owned(),
                "172.18.0.2".to_owned(),
            ],
            ports: vec![5432, 49153],
            roles: vec!["lv_app".to_owned(), "lv_migrator".to_owned()],
            secrets: Scanner::new(
                vec![Canary::new(
                    "password of role lv_app",
                    Secret::new(APP_PASSWORD),
                )],
                formats,
            )
            .expect("scanner should build"),
        }
    }

    fn body(code: &str, message: &str) -> String {
        serde_json::json!({"error": {"code": code, "message": message, "request_id": REQUEST_ID}})
            .to_string()
    }

    fn violations_of(status: u16, body: &str) -> Vec<Violation> {
        let response = ErrorResponse {
            status: StatusCode::from_u16(status).expect("valid status"),
            content_type: Some("application/json"),
            request_id: Some(REQUEST_ID),
            body,
        };
        check(&response, &forbidden())
    }

    #[test]
    fn documented_messages_pass() {
        let cases = [
            (409, "conflict", "a user with this email already exists"),
            (
                422,
                "validation_failed",
                "title must be 1 to 200 characters long",
            ),
            (
                422,
                "validation_failed",
                "display_name must not contain the NUL character",
            ),
            (400, "malformed_json", "request body is not valid JSON"),
            (404, "not_found", "user not found"),
            (
                405,
                "method_not_allowed",
                "method not allowed on this path; see the Allow header",
            ),
            (
                409,
                "conflict",
                "user still owns videos; delete those videos first",
            ),
            (
                503,
                "unavailable",
                "service temporarily unavailable; retry later",
            ),
            (
                500,
                "internal",
                "internal error; the server log has details under this request id",
            ),
            (
                400,
                "invalid_request",
                "unknown field `nickname`, expected one of `email`",
            ),
            (
                413,
                "payload_too_large",
                "request body is larger than 65536 bytes",
            ),
        ];
        for (status, code, message) in cases {
            let violations = violations_of(status, &body(code, message));
            assert!(violations.is_empty(), "{message:?}: {violations:?}");
        }
    }

    #[test]
    fn leaking_messages_flagged() {
        let cases: &[(&str, &str)] = &[
            (
                "duplicate key value violates unique constraint \"users_email_lower_key\"",
                "contains a table, column, constraint or index name",
            ),
            ("INSERT INTO users (email) VALUES ($1)", "contains SQL text"),
            (
                "database error (SQLSTATE 23505)",
                "contains a SQLSTATE code",
            ),
            ("error 22P02 in request", "contains a SQLSTATE code"),
            (
                "error returned from database: canceling statement",
                "contains text from the driver or from Postgres",
            ),
            (
                "panicked at app/src/db/users.rs:42:9",
                "contains a stack trace or source path",
            ),
            (
                "localizevideos_app::db::users failed",
                "contains a stack trace or source path",
            ),
            (
                "cannot reach lv-pg-20250114-093015-k3x9qa",
                "contains the database's host name, IP address or port",
            ),
            (
                "connect to 172.18.0.2 failed",
                "contains the database's host name, IP address or port",
            ),
            (
                "port 5432 closed",
                "contains the database's host name, IP address or port",
            ),
            ("login as lv_app rejected", "contains a role name"),
            (
                "column \"users\" is wrong",
                "contains a table, column, constraint or index name",
            ),
            (
                "bad users.email",
                "contains a table, column, constraint or index name",
            ),
            (
                "see audit_log",
                "contains a table, column, constraint or index name",
            ),
        ];
        for (message, rule) in cases {
            let violations = violations_of(500, &body("internal", message));
            let rules: Vec<&str> = violations.iter().map(|violation| violation.rule).collect();
            assert!(
                rules.contains(rule),
                "{message:?} should break {rule:?}: {rules:?}"
            );
        }
    }

    #[test]
    fn secrets_in_body_flagged_without_showing_them() {
        let message = format!("connect to postgres://lv_app:{APP_PASSWORD}@db/x failed");
        let violations = violations_of(500, &body("internal", &message));

        let secret = violations
            .iter()
            .find(|violation| violation.rule == "contains a secret")
            .expect("the secret should be flagged");
        assert!(!secret.to_string().contains(APP_PASSWORD), "{secret}");
        for violation in &violations {
            assert!(!violation.to_string().contains(APP_PASSWORD), "{violation}");
        }
    }

    #[test]
    fn shape_violations_flagged() {
        let cases: &[(u16, &str, &str)] = &[
            (500, "oops", "body"),
            (404, r#"{"message":"not found"}"#, "body"),
            (
                404,
                r#"{"error":{"code":"not_found","message":"x","request_id":"0f3b9e06-a8eb-49f1-8887-d9331da59043","detail":"y"}}"#,
                "error",
            ),
            (404, &body("gone", "x"), "error.code"),
            (404, &body("conflict", "x"), "error.code"),
            (
                404,
                r#"{"error":{"code":"not_found","message":"x","request_id":"other"}}"#,
                "error.request_id",
            ),
        ];
        for (status, text, part) in cases {
            let violations = violations_of(*status, text);
            let parts: Vec<&str> = violations.iter().map(|violation| violation.part).collect();
            assert!(
                parts.contains(part),
                "{text}: expected a violation in {part}: {violations:?}"
            );
        }
    }

    #[test]
    fn catalog_names_split_by_api_words() {
        let names: Vec<(String, bool)> = [
            ("users", true),
            ("email", true),
            ("owner_id", true),
            ("password_hash", true),
            ("entity_type", true),
            ("videos_pkey", false),
        ]
        .iter()
        .map(|(name, table_or_column)| ((*name).to_owned(), *table_or_column))
        .collect();

        let (identifiers, relations) = Forbidden::split_catalog_names(&names);

        assert_eq!(identifiers, ["entity_type", "password_hash", "videos_pkey"]);
        assert_eq!(relations.len(), 5);
    }

    #[test]
    fn words_match_whole() {
        assert!(contains_word("as lv_app.", "lv_app"));
        assert!(!contains_word("lv_apps", "lv_app"));
        assert!(!contains_word("x_lv_app", "lv_app"));
        assert!(contains_word("port 5432", "5432"));
        assert!(!contains_word("154321", "5432"));
    }
}
