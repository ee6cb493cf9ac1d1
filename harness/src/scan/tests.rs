//! Tables of cases for the scanner: formats, canaries, chunk boundaries, locations, excerpts.

use super::*;
use crate::secret::Secret;

const APP_PASSWORD: &str = "Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe";
const AUDITOR_PASSWORD: &str = "Pz4kW9nB2vC7xQ1mR8tY5uH3jL6gF0dS";

const ARGON2: &str = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$4Zr6XoVn6rWJ3n3c2mJx2q9wI8HqS1yUuO0yq3sZp9U";

fn canaries() -> Vec<Canary> {
    vec![
        Canary::new("password of role lv_app", Secret::new(APP_PASSWORD)),
        Canary::new("password of role lv_auditor", Secret::new(AUDITOR_PASSWORD)),
    ]
}

fn all_formats() -> Vec<Format> {
    let mut formats = password_hash_formats();
    formats.extend(credential_formats());
    formats
}

fn scanner() -> Scanner {
    Scanner::new(canaries(), all_formats()).expect("built-in formats should compile")
}

fn labels(findings: &[Finding]) -> Vec<&str> {
    findings
        .iter()
        .map(|finding| finding.label.as_str())
        .collect()
}

#[test]
fn formats_match_their_examples() {
    let scanner = Scanner::new(Vec::new(), all_formats()).expect("formats should compile");
    let cases: &[(&str, &str, &str)] = &[
        ("argon2id PHC string", ARGON2, "argon2 password hash"),
        (
            "argon2i without version",
            "$argon2i$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "argon2 password hash",
        ),
        (
            "argon2 cut after the parameters",
            "hash=$argon2id$v=19$m=19456,t=2,p=1",
            "argon2 password hash",
        ),
        (
            "bcrypt",
            "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "bcrypt password hash",
        ),
        (
            "scrypt PHC string",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "scrypt password hash",
        ),
        (
            "scrypt crypt(3) form",
            "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D",
            "scrypt password hash",
        ),
        (
            "scrypt Werkzeug form",
            "scrypt:32768:8:1$kzXhQbLr$0f2a3c4d5e6f708192a3b4c5d6e7f8090a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "scrypt password hash",
        ),
        (
            "pbkdf2 Django form",
            "pbkdf2_sha256$600000$Xr9kQ3sL2vPz$w8B6pY2bqgZ4c+H1n0vJmR3tK9sLxQ7eFhU5oA2dC1E=",
            "pbkdf2 password hash",
        ),
        (
            "pbkdf2 passlib form",
            "$pbkdf2-sha256$29000$N2GMUQrBuDdGyJnzvhfCGA$6yiPp3KZ.QRkP4UqNfrbbRDm3nK8cx6HiSANkT10bGk",
            "pbkdf2 password hash",
        ),
        (
            "pbkdf2 Werkzeug form",
            "pbkdf2:sha256:600000$Ab12Cd34$9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "pbkdf2 password hash",
        ),
        (
            "SCRAM-SHA-256 verifier",
            "PASSWORD 'SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5'",
            "SCRAM-SHA-256 verifier",
        ),
        (
            "Postgres md5 hash",
            "rolpassword md53175bce1d3201d16594cebf9d7eb3f9d",
            "Postgres md5 password hash",
        ),
        (
            "phpass",
            "$P$984478476IagS59wHZvyQMArzfx58u.",
            "phpass password hash",
        ),
        (
            "postgres URL with a password",
            "connecting to postgres://lv_app:hunter2hunter2@lv-pg-1:5432/localizevideos",
            "password in a connection string",
        ),
        (
            "URL with an empty user",
            "redis://:s3cretvalue@cache:6379",
            "password in a connection string",
        ),
        (
            "libpq key-value string",
            "host=db user=lv_app password=s3cretvalue dbname=x",
            "password key-value pair",
        ),
        (
            "environment variable",
            "DB_PASSWORD=abc123xyz",
            "password key-value pair",
        ),
        (
            "JSON field",
            r#"{"password": "correct horse"}"#,
            "password key-value pair",
        ),
    ];
    for (case, text, expected) in cases {
        let findings = scanner.scan_text("case", text);
        assert_eq!(labels(&findings), [*expected], "case: {case}");
    }
}

#[test]
fn near_misses_do_not_match() {
    let scanner = Scanner::new(Vec::new(), all_formats()).expect("formats should compile");
    let cases: &[(&str, &str)] = &[
        (
            "argon2 prefix in prose",
            "the hash must start with $argon2id$",
        ),
        ("bcrypt prefix only", "cost $2b$12$ and nothing else"),
        (
            "md5 with 31 hex digits",
            "md53175bce1d3201d16594cebf9d7eb3f9",
        ),
        ("md5 inside a word", "xmd53175bce1d3201d16594cebf9d7eb3f9d"),
        ("md5 as a word", "compare the md5 checksum"),
        ("URL without a password", "GET http://127.0.0.1:8080/readyz"),
        ("URL with a user only", "postgres://lv_app@db:5432/x"),
        (
            "redacted URL password",
            "postgres://lv_app:[redacted]@db:5432/x",
        ),
        ("redacted pair", "password=[redacted] user=lv_app"),
        (
            "JSON-escaped redacted pair",
            r#"{"fields":"env POSTGRES_PASSWORD=[redacted]\" PGDATA=/data"}"#,
        ),
        (
            "placeholder in a usage message",
            "expected postgres://USER:PASSWORD@HOST/DB",
        ),
        (
            "prose about passwords",
            "password authentication failed for user \"lv_app\"",
        ),
        (
            "hash field name",
            "field `password_hash`: database unchanged",
        ),
        ("shell working directory", "PWD=/root/work"),
        (
            "Rust path",
            r#"<testcase name="password::tests::salts_differ"/>"#,
        ),
        ("environment reference", "DB_PASSWORD=${DB_PASSWORD}"),
        ("shell variable", "postgres://u:$PGPASSWORD@host/db"),
        (
            "quoted excerpt of a finding",
            "app stdout, line 1: password key-value pair: `password=[redacted: password key-value pair]…`",
        ),
    ];
    for (case, text) in cases {
        let findings = scanner.scan_text("case", text);
        assert!(
            findings.is_empty(),
            "case {case}: expected no finding, got {findings:?}"
        );
    }
}

#[test]
fn canary_found_with_line_and_column() {
    let text = format!("first line\nsecond {APP_PASSWORD} end\n");

    let findings = scanner().scan_text("app stdout", &text);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].label, "password of role lv_app");
    assert_eq!(findings[0].source, "app stdout");
    assert_eq!(findings[0].location, Location::Line { line: 2, column: 8 });
}

#[test]
fn excerpt_hides_the_secret_and_keeps_context() {
    let text = format!(
        r#"{{"level":"INFO","database_url":"postgres://lv_app:{APP_PASSWORD}@lv-pg-1:5432/x"}}"#
    );

    let findings = scanner().scan_text("app stdout", &text);

    assert!(!findings.is_empty());
    for finding in &findings {
        assert!(
            !finding.excerpt.contains(APP_PASSWORD),
            "excerpt shows the secret: {finding}"
        );
        assert!(
            !finding.to_string().contains(APP_PASSWORD),
            "finding shows the secret: {finding}"
        );
    }
    let canary = findings
        .iter()
        .find(|finding| finding.label == "password of role lv_app")
        .expect("the canary should be found");
    assert!(
        canary
            .excerpt
            .contains("[redacted: password of role lv_app]"),
        "{canary}"
    );
    assert!(canary.excerpt.contains("lv-pg-1"), "{canary}");
}

#[test]
fn excerpt_drops_a_token_cut_by_the_window() {
    // A secret-like token longer than the context must not show in part.
    let token = "A".repeat(30) + "B".repeat(30).as_str();
    let text = format!("{token}{APP_PASSWORD} tail");

    let findings = scanner().scan_text("log", &text);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(!findings[0].excerpt.contains('B'), "{}", findings[0]);
    assert!(findings[0].excerpt.starts_with('…'), "{}", findings[0]);
}

#[test]
fn adjacent_canaries_both_found_and_masked() {
    let text = format!("{APP_PASSWORD}{AUDITOR_PASSWORD}");

    let findings = scanner().scan_text("log", &text);

    assert_eq!(
        labels(&findings),
        ["password of role lv_app", "password of role lv_auditor"]
    );
    for finding in &findings {
        assert!(!finding.excerpt.contains(APP_PASSWORD), "{finding}");
        assert!(!finding.excerpt.contains(AUDITOR_PASSWORD), "{finding}");
    }
}

/// Filler longer than one scan block, so that a stream scans in between chunks.
fn filler(len: usize) -> Vec<u8> {
    let line = b"{\"level\":\"INFO\",\"message\":\"request finished\",\"status\":200}\n";
    line.iter().copied().cycle().take(len).collect()
}

#[test]
fn match_split_across_two_chunks_found_once() {
    let scanner = scanner();
    let secrets: &[(&str, &str)] = &[
        (APP_PASSWORD, "password of role lv_app"),
        (ARGON2, "argon2 password hash"),
        (
            "postgres://lv_app:hunter2hunter2@db:5432/x",
            "password in a connection string",
        ),
    ];
    // The data ends at a scan boundary of the first chunk, so the secret straddles the bytes a
    // scan reports and the bytes it keeps for the next one.
    let prefix = filler(SCAN_BLOCK_FOR_TESTS + 3 * scanner.max_match_len());
    for (secret, label) in secrets {
        let mut data = prefix.clone();
        data.extend_from_slice(b" ");
        let secret_at = data.len();
        data.extend_from_slice(secret.as_bytes());
        data.extend_from_slice(b" \n");
        data.extend_from_slice(&filler(1000));

        for split in secret_at - 2..=secret_at + secret.len() + 2 {
            let mut stream = scanner.stream("split");
            stream.feed(&data[..split]);
            stream.feed(&data[split..]);
            let findings = stream.finish();

            assert_eq!(
                labels(&findings),
                [*label],
                "secret {label} split at byte {} of its {} bytes",
                split as isize - secret_at as isize,
                secret.len()
            );
            let newlines = data[..secret_at].iter().filter(|&&b| b == b'\n').count() as u64;
            let Location::Line { line, .. } = findings[0].location else {
                panic!("stream findings have line locations");
            };
            assert_eq!(line, newlines + 1, "line of {label} split at {split}");
        }
    }
}

#[test]
fn stream_of_tiny_chunks_finds_every_secret_once() {
    let scanner = scanner();
    let mut data = filler(SCAN_BLOCK_FOR_TESTS * 2);
    let positions = [1000, SCAN_BLOCK_FOR_TESTS - 7, SCAN_BLOCK_FOR_TESTS + 5000];
    for (count, position) in positions.iter().enumerate() {
        let at = position + count * APP_PASSWORD.len();
        data.splice(at..at, APP_PASSWORD.bytes());
    }

    let mut stream = scanner.stream("tiny");
    for chunk in data.chunks(7) {
        stream.feed(chunk);
    }
    let findings = stream.finish();

    assert_eq!(findings.len(), positions.len(), "{findings:?}");
}

#[test]
fn reader_scan_matches_slice_scan() {
    let scanner = scanner();
    let mut data = filler(3 * SCAN_BLOCK_FOR_TESTS);
    let at = 2 * SCAN_BLOCK_FOR_TESTS + 11;
    data.splice(at..at, ARGON2.bytes());

    let from_reader = scanner
        .scan_reader("log", std::io::Cursor::new(&data))
        .expect("reading from memory should succeed");
    let from_slice = scanner.scan_bytes("log", &data);

    assert_eq!(from_reader, from_slice);
    assert_eq!(labels(&from_reader), ["argon2 password hash"]);
}

#[test]
fn json_findings_name_the_field_path() {
    let document = serde_json::json!({
        "id": "546c3c87-c9bc-4d33-920c-e256e66072dd",
        "items": [
            {"email": "a@example.test"},
            {"profile": {"security": {"password_hash": ARGON2}}},
        ],
        "weird key": format!("x {APP_PASSWORD}"),
    });

    let findings = scanner().scan_json("GET /v1/users (200)", &document);

    let locations: Vec<String> = findings
        .iter()
        .map(|finding| format!("{}: {}", finding.location, finding.label))
        .collect();
    assert_eq!(
        locations,
        [
            "field $.items[1].profile.security.password_hash: argon2 password hash",
            "field $[\"weird key\"], column 3: password of role lv_app",
        ]
    );
}

#[test]
fn json_key_with_a_secret_is_hidden_in_the_path() {
    let document = serde_json::json!({ APP_PASSWORD: 1 });

    let findings = scanner().scan_json("body", &document);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        !findings[0].to_string().contains(APP_PASSWORD),
        "{}",
        findings[0]
    );
}

#[test]
fn short_canary_rejected() {
    let error = Scanner::new(vec![Canary::new("tiny", Secret::new("abc"))], Vec::new())
        .expect_err("a 3-byte canary should be rejected");

    assert!(error.to_string().contains("tiny"), "{error}");
}

#[test]
fn unbounded_format_rejected() {
    let error = Format::new("unbounded", "x", "x[a-z]+", None)
        .expect_err("an unbounded pattern should be rejected");

    assert!(error.to_string().contains("maximum length"), "{error}");
}

#[test]
fn debug_output_lists_labels_only() {
    let debug = format!("{:?}", scanner());

    assert!(debug.contains("password of role lv_app"), "{debug}");
    assert!(!debug.contains(APP_PASSWORD), "{debug}");
}

const SCAN_BLOCK_FOR_TESTS: usize = super::stream::SCAN_BLOCK_LEN;

#[test]
fn weak_real_passwords_match() {
    let scanner = Scanner::new(Vec::new(), all_formats()).expect("formats should compile");
    let cases: &[(&str, &str)] = &[
        ("URL with secret", "postgres://u:secret@host/db"),
        ("URL with changeme", "postgresql://u:changeme@host/db"),
        ("pair with changeme", "password=changeme"),
        ("pair with Secret", "password=Secret"),
        ("libpq string", "host=db user=u password=secret"),
        ("default inside a reference", "password=${SECRET:-hunter22}"),
    ];
    for (case, text) in cases {
        let findings = scanner.scan_text("case", text);
        assert!(
            !findings.is_empty(),
            "case {case}: expected a finding in {text:?}"
        );
    }
}

#[test]
fn excerpt_hides_text_after_guessed_value() {
    let scanner = Scanner::new(Vec::new(), all_formats()).expect("formats should compile");
    let cases: &[(&str, &str, &str)] = &[
        (
            "value with spaces",
            "password: correct horse battery staple",
            "horse",
        ),
        (
            "value with an ampersand",
            r#"db_password: "Tr0ub4dor&3xyz""#,
            "3xyz",
        ),
        ("value with a semicolon", "password=abc;def123", "def123"),
        (
            "URL password with an at sign",
            "postgres://u:p@ss@host/db",
            "ss@host",
        ),
    ];
    for (case, text, rest) in cases {
        let findings = scanner.scan_text("case", text);

        assert!(!findings.is_empty(), "case {case}: expected a finding");
        for finding in &findings {
            assert!(
                !finding.to_string().contains(rest),
                "case {case}: the finding shows {rest:?}: {finding}"
            );
        }
    }
}

#[test]
fn findings_scan_clean_when_quoted() {
    let text = format!(
        "password=hunter2x postgres://lv_app:{APP_PASSWORD}@db/x \"password\": \"Tr0ub4dor\" {ARGON2}"
    );
    let scanner = scanner();
    let findings = scanner.scan_text("app stdout", &text);
    assert!(findings.len() >= 4, "{findings:?}");

    for finding in &findings {
        let quoted = finding.to_string();
        let again = scanner.scan_text("report", &quoted);

        assert!(
            again.is_empty(),
            "the quoted finding is a finding again: {quoted}: {again:?}"
        );
        assert_eq!(
            crate::redact::redact(&quoted),
            quoted,
            "redaction changes the quoted finding"
        );
    }
}
