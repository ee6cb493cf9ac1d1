//! Secret formats: password hashes and credentials recognised by their shape.
//!
//! Each format has an anchor, a short pattern that the scanner's regex set looks for first, and
//! a full pattern that must match where the anchor matched. That anchored search fails after a
//! few bytes on text that only resembles the format. Every full pattern has a bounded length,
//! which sets the overlap between stream blocks.

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use super::ScanError;
use super::excerpt::MASK_PREFIX;

/// Values that stand for a secret without being one, such as `[redacted]` in a log line. A
/// credential format whose secret part is one of these (case ignored) does not match. Weak but
/// real passwords such as `secret` or `changeme` are not in the list: they leak most often.
const PLACEHOLDERS: &[&str] = &[
    "[redacted]",
    "%5bredacted%5d",
    "redacted",
    "xxx",
    "xxxx",
    "xxxxxxxx",
    "...",
    "…",
];

/// Metavariables of usage messages and documentation, such as
/// `postgres://USER:PASSWORD@HOST/DB`, matched with their case.
const METAVARIABLES: &[&str] = &["PASSWORD", "PASSWD", "PASS", "PWD", "SECRET"];

/// A secret format: a label, an anchor for the regex set, and the full bounded pattern.
#[derive(Clone, Debug)]
pub struct Format {
    /// Label shown in findings and in place of the match, such as `argon2 password hash`.
    pub name: &'static str,
    /// Pattern that every match contains, cheap to search for.
    pub anchor: &'static str,
    /// Maximum match length in bytes, computed from the full pattern.
    pub max_len: usize,
    /// Capture group that contains the secret part, checked against placeholders.
    secret_group: Option<usize>,
    regex: Regex,
}

impl Format {
    /// Compiles a format. Every match of `pattern` starts with a match of `anchor`, and
    /// `pattern` must have a bounded length (no `*` or `+`), which sets how many bytes a
    /// streaming scan carries between blocks. When `secret_group` is set, a match whose group is a
    /// placeholder such as `[redacted]` is skipped.
    pub fn new(
        name: &'static str,
        anchor: &'static str,
        pattern: &str,
        secret_group: Option<usize>,
    ) -> Result<Self, ScanError> {
        let invalid = |reason: String| ScanError::Format { name, reason };
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .map_err(|error| invalid(error.to_string()))?;
        let max_len = hir.properties().maximum_len().ok_or_else(|| {
            invalid("the pattern has no maximum length; replace `*` and `+` with bounds".into())
        })?;
        let regex = byte_regex(&[pattern]).map_err(invalid)?;
        byte_regex(&[anchor]).map_err(|error| invalid(format!("anchor: {error}")))?;
        Ok(Self {
            name,
            anchor,
            max_len,
            secret_group,
            regex,
        })
    }

    /// Returns whether the format marks a part of its match as the secret, whose end it guesses.
    pub(crate) fn has_secret_group(&self) -> bool {
        self.secret_group.is_some()
    }

    /// Tries the full pattern where an anchor match starts. Returns the match's end and its
    /// secret range (the secret group's, or the whole match), unless there is no match or the
    /// secret is a placeholder.
    pub(crate) fn confirm(&self, haystack: &[u8], start: usize) -> Option<(usize, (usize, usize))> {
        // One byte past the maximum match length, so that `\b` at the end can read the next byte.
        let end = (start + self.max_len + 1).min(haystack.len());
        let input = Input::new(haystack)
            .span(start..end)
            .anchored(Anchored::Yes);
        // Most anchors are not followed by the format, so the cheaper search without groups
        // runs first.
        let found = self.regex.search(&input)?;
        let Some(group) = self.secret_group else {
            return Some((found.end(), (found.start(), found.end())));
        };

        let mut captures = self.regex.create_captures();
        self.regex
            .search_captures(&input.span(found.range()), &mut captures);
        let whole = captures.get_match()?;
        let secret = captures.get_group(group)?;
        if is_placeholder(&haystack[secret.range()]) {
            return None;
        }
        Some((whole.end(), (secret.start, secret.end)))
    }
}

/// Compiles patterns for byte haystacks: with `(?-u)`, a class may match any byte, which the
/// default UTF-8 mode rejects.
pub(crate) fn byte_regex(patterns: &[&str]) -> Result<Regex, String> {
    Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().utf8(false))
        .build_many(patterns)
        .map_err(|error| match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        })
}

fn is_placeholder(value: &[u8]) -> bool {
    let original = String::from_utf8_lossy(value);
    // A backslash escapes the quote after a value in JSON, as in `PASSWORD=[redacted]\"`.
    let original = original.trim_matches(|c| c == '"' || c == '\'' || c == '`' || c == '\\');
    let value = original.to_lowercase();
    // The mask of an excerpt, as a report quotes it: `[redacted: password key-value pair]`.
    let mask = MASK_PREFIX.trim_end().to_lowercase();
    PLACEHOLDERS.contains(&value.as_str())
        || METAVARIABLES.contains(&original)
        || value.starts_with(&mask)
        || value.chars().all(|c| c == '*')
        || (value.starts_with('<') && value.ends_with('>'))
        || (value.starts_with("${") && value.ends_with('}') && !value.contains(":-"))
        || (original.len() > 1
            && original.starts_with('$')
            && original[1..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

fn built_in(
    name: &'static str,
    anchor: &'static str,
    pattern: &str,
    group: Option<usize>,
) -> Format {
    Format::new(name, anchor, pattern, group)
        .unwrap_or_else(|error| panic!("built-in format `{name}` is invalid: {error}"))
}

/// Base64 and crypt(3) alphabets, as class bodies.
const B64: &str = "A-Za-z0-9+/";
const CRYPT64: &str = "./A-Za-z0-9";

/// Argon2 PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), also cut short after the
/// parameters.
fn argon2() -> Format {
    let pattern = format!(
        r"(?-u)\$argon2(?:id|i|d)\$(?:v=[0-9]{{1,4}}\$)?m=[0-9]{{1,10}},t=[0-9]{{1,10}},p=[0-9]{{1,4}}(?:,[a-z]{{1,8}}=[{B64}]{{0,128}}){{0,4}}(?:\$[{B64}]{{1,256}}){{0,2}}"
    );
    built_in(
        "argon2 password hash",
        r"(?-u)\$argon2(?:id|i|d)\$",
        &pattern,
        None,
    )
}

/// bcrypt (`$2b$12$` and 53 characters of salt and hash).
fn bcrypt() -> Format {
    let pattern = format!(r"(?-u)\$2[abxy]?\$[0-9]{{2}}\$[{CRYPT64}]{{53}}");
    built_in(
        "bcrypt password hash",
        r"(?-u)\$2[abxy]?\$[0-9]{2}\$",
        &pattern,
        None,
    )
}

/// scrypt in PHC form (`$scrypt$ln=…`), crypt(3) form (`$7$`) and Werkzeug form (`scrypt:N:r:p$`).
fn scrypt() -> Format {
    let pattern = format!(
        r"(?-u)\$scrypt\$[A-Za-z0-9=,]{{1,64}}\$[{B64}.=]{{4,128}}\$[{B64}.=]{{16,256}}|\$7\$[{CRYPT64}]{{11,64}}\$[{CRYPT64}]{{43}}|scrypt:[0-9]{{1,10}}:[0-9]{{1,4}}:[0-9]{{1,4}}\$[{B64}.=]{{4,128}}\$[0-9a-f]{{32,256}}"
    );
    built_in(
        "scrypt password hash",
        r"(?-u)\$scrypt\$|\$7\$|scrypt:[0-9]",
        &pattern,
        None,
    )
}

/// PBKDF2 in Django (`pbkdf2_sha256$`), passlib and PHC (`$pbkdf2-sha256$`) and Werkzeug
/// (`pbkdf2:sha256:`) forms.
fn pbkdf2() -> Format {
    let pattern = format!(
        r"(?-u)pbkdf2_sha(?:1|256|512)\$[0-9]{{1,10}}\$[^$\s]{{1,128}}\$[{B64}=]{{16,256}}|\$pbkdf2(?:-sha(?:1|256|512))?\$(?:i=)?[0-9]{{1,10}}(?:,l=[0-9]{{1,4}})?\$[{CRYPT64}+=]{{1,128}}\$[{CRYPT64}+=]{{16,256}}|pbkdf2:sha(?:1|256|512):[0-9]{{1,10}}\$[^$\s]{{1,128}}\$[0-9a-f]{{32,256}}"
    );
    built_in("pbkdf2 password hash", r"(?-u)\$?pbkdf2", &pattern, None)
}

/// PostgreSQL SCRAM-SHA-256 verifiers (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`), which
/// allow an offline guess of the password.
fn scram() -> Format {
    let pattern = format!(
        r"(?-u)SCRAM-SHA-256\$[0-9]{{1,10}}:[{B64}=]{{4,128}}\$[{B64}=]{{16,128}}:[{B64}=]{{16,128}}"
    );
    built_in(
        "SCRAM-SHA-256 verifier",
        r"(?-u)SCRAM-SHA-256\$",
        &pattern,
        None,
    )
}

/// PostgreSQL md5 password hashes: `md5` and 32 hex digits.
fn postgres_md5() -> Format {
    let pattern = r"(?-u)\bmd5[0-9a-f]{32}\b";
    built_in("Postgres md5 password hash", pattern, pattern, None)
}

/// phpass portable hashes (`$P$` or `$H$` and 31 characters).
fn phpass() -> Format {
    let pattern = format!(r"(?-u)\$[PH]\$[{CRYPT64}]{{31}}");
    built_in("phpass password hash", r"(?-u)\$[PH]\$", &pattern, None)
}

/// URLs with a password in the userinfo, such as `postgres://user:secret@host/db`. A match
/// starts at `://`, because an anchored search cannot reach back to the scheme.
fn url_with_password() -> Format {
    let pattern = r#"(?-u)://[^\s:/@?#"'<>\[\]]{0,128}:([^\s@/?#"'<>]{1,256})@"#;
    built_in(
        "password in a connection string",
        r"(?-u)://",
        pattern,
        Some(1),
    )
}

/// Key-value pairs that set a password: `password=…` (libpq connection strings, env files,
/// `DB_PASSWORD=`), `password: …` and JSON `"password": "…"`. A match starts at the word
/// `password` or `passwd`, in lower, upper or title case. `pwd` is left out because the shell's
/// `PWD=/path` would match it, and a value cannot start with `:`, so that Rust paths such as
/// `password::tests` do not match.
///
/// NOTE: other mixed cases, such as `PassWord=`, are not matched. A case-insensitive anchor
/// expands into too many literals for the regex set's prefilter and halves its speed.
fn password_pair() -> Format {
    let key = r"(?:passw(?:or)?d|PASSW(?:OR)?D|Passw(?:or)?d)";
    let pattern = format!(
        r#"(?-u){key}["']?[ \t]{{0,4}}[=:][ \t]{{0,4}}["']?([^\s&;,"'<>:][^\s&;,"'<>]{{0,255}})"#
    );
    built_in(
        "password key-value pair",
        r"(?-u)passw(?:or)?d|PASSW(?:OR)?D|Passw(?:or)?d",
        &pattern,
        Some(1),
    )
}

/// Formats of stored password hashes: argon2, bcrypt, scrypt, pbkdf2, SCRAM verifiers, Postgres
/// md5 hashes and phpass.
pub fn password_hash_formats() -> Vec<Format> {
    vec![
        argon2(),
        bcrypt(),
        scrypt(),
        pbkdf2(),
        scram(),
        postgres_md5(),
        phpass(),
    ]
}

/// Formats of credentials: connection strings and key-value pairs with a password, and the
/// verifiers Postgres stores for role passwords (SCRAM-SHA-256 and md5).
pub fn credential_formats() -> Vec<Format> {
    vec![
        url_with_password(),
        password_pair(),
        scram(),
        postgres_md5(),
    ]
}
