//! Redaction of every string that leaves the harness: log lines, error messages, container
//! logs shown on a timeout, and the report.
//!
//! Three kinds of text are replaced with `[redacted]`: the exact values of registered secrets
//! (the run's passwords), the password in URL userinfo (`postgres://user:PASS@host`), and the
//! value of `password=...` style key-value pairs (also `DB_PASSWORD=`, JSON `"password":"..."`).
//! SCRAM-SHA-256 verifiers are replaced as a whole, because they allow an offline guess.

use std::sync::{LazyLock, RwLock};

use regex::{Captures, Regex};

use crate::secret::Secret;

/// The text that replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Upper-case placeholders for a password in usage messages, kept as they are.
const METAVARIABLES: &[&str] = &["PASSWORD", "PASSWD", "PASS", "SECRET"];

/// Minimum length of a registered secret, because shorter values would redact ordinary words.
const MIN_SECRET_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)([^\s@/]+)@").expect("valid regex")
});

static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(\w*(?:password|passwd|pwd)\s*=\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)"#)
        .expect("valid regex")
});

static JSON_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)("\w*(?:password|passwd|pwd)\w*"\s*:\s*)"(?:[^"\\]|\\.)*""#)
        .expect("valid regex")
});

static SCRAM_VERIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+")
        .expect("valid regex")
});

/// Registers `secret` so that [`redact`] replaces its exact value from now on, in this process.
/// Values shorter than 8 characters are not registered.
pub fn register(secret: &Secret) {
    let value = secret.expose();
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !secrets.iter().any(|known| known == value) {
        secrets.push(value.to_owned());
    }
}

/// Redacts `text` with every secret registered in this process and the pattern rules.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    redact_with(&secrets, text)
}

/// Redacts `text` with the given secrets and the pattern rules.
pub fn redact_with(secrets: &[String], text: &str) -> String {
    // Sorted by length, descending, so that a secret containing another is replaced whole.
    let mut by_length: Vec<&String> = secrets.iter().collect();
    by_length.sort_by_key(|secret| std::cmp::Reverse(secret.len()));

    let mut redacted = text.to_owned();
    for secret in by_length {
        if redacted.contains(secret.as_str()) {
            redacted = redacted.replace(secret.as_str(), REDACTED);
        }
    }

    let redacted = SCRAM_VERIFIER.replace_all(&redacted, REDACTED);
    let redacted = URL_USERINFO.replace_all(&redacted, |caps: &Captures| {
        // The metavariable of a usage message, as in `postgres://USER:PASSWORD@HOST`, stays.
        if METAVARIABLES.contains(&&caps[2]) {
            caps[0].to_owned()
        } else {
            format!("{}{REDACTED}@", &caps[1])
        }
    });
    let redacted = JSON_FIELD.replace_all(&redacted, |caps: &Captures| {
        format!("{}\"{REDACTED}\"", &caps[1])
    });
    let redacted = KEY_VALUE.replace_all(&redacted, |caps: &Captures| {
        // A value that is already redacted, or the scanner's mask of one
        // (`[redacted: password key-value pair]`), stays as it is.
        if caps[2].contains(REDACTED) || caps[2].starts_with("[redacted:") {
            caps[0].to_owned()
        } else {
            format!("{}{REDACTED}", &caps[1])
        }
    });
    redacted.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN_PASSWORD: &str = "Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe";

    #[test]
    fn redaction_cases() {
        let secrets = vec![RUN_PASSWORD.to_owned()];
        let cases: &[(&str, &str, &str)] = &[
            (
                "usage metavariable in a URL",
                "expected postgres://USER:PASSWORD@HOST:5432/DATABASE",
                "expected postgres://USER:PASSWORD@HOST:5432/DATABASE",
            ),
            (
                "exact secret in free text",
                "connecting with Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe now",
                "connecting with [redacted] now",
            ),
            (
                "exact secret twice",
                "a=Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe b=Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe",
                "a=[redacted] b=[redacted]",
            ),
            (
                "postgres URL userinfo",
                "DATABASE_URL postgres://lv_app:hunter2hunter2@lv-pg-1:5432/localizevideos",
                "DATABASE_URL postgres://lv_app:[redacted]@lv-pg-1:5432/localizevideos",
            ),
            (
                "postgresql scheme with encoded characters",
                "postgresql://u:p%40ss%2Fword@db/x",
                "postgresql://u:[redacted]@db/x",
            ),
            (
                "URL without password is unchanged",
                "http://127.0.0.1:8080/readyz and postgres://lv_app@db/x",
                "http://127.0.0.1:8080/readyz and postgres://lv_app@db/x",
            ),
            (
                "key-value pair",
                "host=db user=lv_app password=s3cretvalue dbname=x",
                "host=db user=lv_app password=[redacted] dbname=x",
            ),
            (
                "environment variable",
                "DB_PASSWORD=abc123xyz POSTGRES_PASSWORD='quoted value'",
                "DB_PASSWORD=[redacted] POSTGRES_PASSWORD=[redacted]",
            ),
            (
                "double-quoted value with spaces",
                "password = \"two words\" next",
                "password = [redacted] next",
            ),
            (
                "query string",
                "/login?user=a&pwd=letmein&x=1",
                "/login?user=a&pwd=[redacted]&x=1",
            ),
            (
                "JSON field",
                r#"{"email":"a@b.c","password":"correct horse","display_name":"A"}"#,
                r#"{"email":"a@b.c","password":"[redacted]","display_name":"A"}"#,
            ),
            (
                "JSON field with escaped quote",
                r#"{"new_password" : "a\"b"}"#,
                r#"{"new_password" : "[redacted]"}"#,
            ),
            (
                "SCRAM verifier",
                "PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'",
                "PASSWORD '[redacted]'",
            ),
            (
                "the word password in prose is unchanged",
                "password authentication failed for user \"lv_app\"",
                "password authentication failed for user \"lv_app\"",
            ),
            (
                "exact secret inside a key-value pair",
                "password=Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe",
                "password=[redacted]",
            ),
        ];
        for (case, input, expected) in cases {
            assert_eq!(redact_with(&secrets, input), *expected, "case: {case}");
        }
    }

    #[test]
    fn registered_secret_is_redacted_globally() {
        let secret = Secret::generate();
        let text = format!("value {} end", secret.expose());
        register(&secret);
        assert_eq!(redact(&text), "value [redacted] end");
    }

    #[test]
    fn short_values_are_not_registered() {
        register(&Secret::new("abc"));
        assert_eq!(redact("abc abc"), "abc abc");
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let secrets = vec!["prefix-a".to_owned(), "prefix-and-more".to_owned()];
        assert_eq!(
            redact_with(&secrets, "x prefix-and-more y"),
            "x [redacted] y"
        );
    }
}
