//! Generators of field values that real clients send: Unicode (combining marks, right-to-left
//! text, emoji, CJK), empty and padded strings, case variants of emails, the maximum length and
//! one past it, NUL, and numbers of the wrong size or type. Each generator mixes valid and
//! invalid values; the model decides which is which from the contract's rules.

use proptest::prelude::*;
use proptest::sample::select;

/// Maximum characters of a title.
pub const TITLE_MAX: usize = 200;
/// Maximum characters of a display name.
pub const DISPLAY_NAME_MAX: usize = 100;
/// Maximum characters of an email.
pub const EMAIL_MAX: usize = 254;
/// Password length bounds in characters.
pub const PASSWORD_CHARS: (usize, usize) = (8, 128);
/// Maximum video duration in seconds.
pub const DURATION_MAX: i64 = 86_400;

/// Text samples that stress storage and comparison. Index 0 is the value shrinking goes to.
const TEXT_SAMPLES: &[&str] = &[
    "Intro",
    "",
    " ",
    "  padded at both ends  ",
    "trailing tab\t",
    "e\u{301}te\u{301} (combining acute accents)",
    "\u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{5e2}\u{5d5}\u{5dc}\u{5dd}",
    "\u{645}\u{631}\u{62d}\u{628}\u{627} \u{200f}RTL mark",
    "\u{202e}right-to-left override",
    "\u{1f3ac}\u{1f39e}\u{fe0f}",
    "\u{1f469}\u{200d}\u{1f469}\u{200d}\u{1f467} family",
    "\u{5b57}\u{5e55}\u{30c6}\u{30b9}\u{30c8}",
    "\u{d55c}\u{ad6d}\u{c5b4}",
    "nul\u{0}inside",
    "zero\u{200b}width",
    "\"quotes\" and \\backslashes\\",
    "<script>alert(1)</script>",
    "line\nbreak",
];

/// Characters repeated to build maximum-length values: 1 to 4 UTF-8 bytes each, so that a
/// byte count and a character count differ.
const WIDE_CHARS: [char; 4] = ['a', '\u{e9}', '\u{5b57}', '\u{1f3ac}'];

/// Builds a string of exactly `chars` characters from [`WIDE_CHARS`].
pub fn wide_text(chars: usize) -> String {
    WIDE_CHARS.iter().cycle().take(chars).collect()
}

/// Generates text field values up to `max` characters: samples, random printable Unicode, and
/// strings of exactly `max` and `max + 1` characters.
///
/// Shrinking moves from an alternative to the one before it, so each alternative comes after a
/// simpler one that keeps the value's validity where it can.
pub fn text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(TEXT_SAMPLES).prop_map(str::to_owned),
        1 => Just(wide_text(max)),
        3 => "\\PC{1,16}",
        1 => Just(wide_text(max + 1)),
    ]
    .boxed()
}

/// Local parts of emails. None has an uppercase non-ASCII letter, so that case variants differ
/// only in ASCII letters and Postgres `lower()` agrees with ASCII lowercasing in any locale.
const EMAIL_LOCALS: &[&str] = &[
    "ann",
    "Bob.Lee+tag",
    "jos\u{e9}",
    "\u{7528}\u{6237}",
    "o'neil",
];
/// Domains of emails, with the same restriction.
const EMAIL_DOMAINS: &[&str] = &["example.test", "Example.Test", "\u{4f8b}\u{5b50}.test"];
/// Emails that break a rule.
const INVALID_EMAILS: &[&str] = &[
    "no-at-sign",
    "@example.test",
    "ann@",
    " ann@example.test",
    "ann@example.test ",
    "a b@example.test",
    "ann\u{0}@example.test",
    "",
    "@a@b",
];

/// Casing of an email's ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// As written.
    AsIs,
    /// ASCII letters lowercased.
    Lower,
    /// ASCII letters uppercased.
    Upper,
}

impl Case {
    /// Applies the casing to ASCII letters only.
    pub fn apply(self, text: &str) -> String {
        match self {
            Case::AsIs => text.to_owned(),
            Case::Lower => text.to_ascii_lowercase(),
            Case::Upper => text.to_ascii_uppercase(),
        }
    }
}

/// Generates casings.
pub fn case() -> BoxedStrategy<Case> {
    select(vec![Case::AsIs, Case::Lower, Case::Upper]).boxed()
}

/// Generates emails: mostly valid ones from a small pool (so that duplicates in other cases happen),
/// invalid ones, and ones of exactly 254 and 255 characters.
pub fn email() -> BoxedStrategy<String> {
    let pooled = (select(EMAIL_LOCALS), select(EMAIL_DOMAINS), case())
        .prop_map(|(local, domain, case)| case.apply(&format!("{local}@{domain}")));
    let sized = |chars: usize| {
        let domain = "@example.test";
        let local = "l".repeat(chars - domain.chars().count());
        format!("{local}{domain}")
    };
    // Valid alternatives first, so that shrinking reaches a pooled email (see `text`).
    prop_oneof![
        8 => pooled,
        1 => Just(sized(EMAIL_MAX)),
        2 => select(INVALID_EMAILS).prop_map(str::to_owned),
        1 => Just(sized(EMAIL_MAX + 1)),
    ]
    .boxed()
}

/// Generates passwords: valid lengths, Unicode, NUL (allowed: passwords are only hashed), and lengths
/// one outside the bounds.
pub fn password() -> BoxedStrategy<String> {
    let (min, max) = PASSWORD_CHARS;
    prop_oneof![
        4 => select(vec![
            "correct horse battery".to_owned(),
            "p\u{e4}ssw\u{f6}rd\u{1f511}".to_owned(),
            "pass\u{0}word".to_owned(),
            " spaced password ".to_owned(),
        ]),
        1 => Just(wide_text(min)),
        1 => Just(wide_text(max)),
        2 => "\\PC{8,24}",
        1 => Just(wide_text(min - 1)),
        1 => Just(wide_text(max + 1)),
    ]
    .boxed()
}

/// A language tag as sent, with the form the app stores it in, or `None` when the tag is
/// invalid. The stored forms follow RFC 5646 section 2.1.1's recommended case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Text sent.
    pub sent: String,
    /// Text stored and returned, or `None` for 422.
    pub stored: Option<String>,
}

/// Language tags and their stored forms.
const TAGS: &[(&str, Option<&str>)] = &[
    ("en-US", Some("en-US")),
    ("en-us", Some("en-US")),
    ("EN-US", Some("en-US")),
    ("de", Some("de")),
    ("pt-br", Some("pt-BR")),
    ("zh-hant-tw", Some("zh-Hant-TW")),
    ("sr-Latn", Some("sr-Latn")),
    ("x-klingon", Some("x-klingon")),
    ("i-klingon", Some("i-klingon")),
    ("qq-ZZ", Some("qq-ZZ")),
    ("de-DE-1996", Some("de-DE-1996")),
    ("english!", None),
    ("", None),
    ("en--us", None),
    ("de-DE-1996-1996", None),
    ("\u{65e5}\u{672c}\u{8a9e}", None),
    (
        "x-abcdefgh-abcdefgh-abcdefgh-abcdef",
        Some("x-abcdefgh-abcdefgh-abcdefgh-abcdef"),
    ),
    ("x-abcdefgh-abcdefgh-abcdefgh-abcdefg", None),
];

/// Generates language tags with their stored forms.
pub fn tag() -> BoxedStrategy<Tag> {
    select(TAGS)
        .prop_map(|(sent, stored)| Tag {
            sent: sent.to_owned(),
            stored: stored.map(str::to_owned),
        })
        .boxed()
}

/// Generates optional enum values: absent, one of `valid`, or a near miss.
pub fn enum_value(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        2 => Just(None),
        4 => select(valid).prop_map(|value| Some(value.to_owned())),
        1 => select(invalid).prop_map(|value| Some(value.to_owned())),
    ]
    .boxed()
}

/// Video statuses the contract accepts.
pub const VIDEO_STATUSES: &[&str] = &["draft", "processing", "ready", "failed"];
/// Localization kinds the contract accepts.
pub const KINDS: &[&str] = &["subtitles", "dubbing"];
/// Localization statuses the contract accepts.
pub const LOCALIZATION_STATUSES: &[&str] = &["pending", "in_progress", "done", "failed"];

/// A JSON number where the contract expects an integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Number {
    /// An integer literal.
    Int(i64),
    /// Another literal: a fraction, an exponent, a number beyond 64 bits or a string.
    Literal(&'static str, Literal),
}

/// Treatment of a non-integer literal for an `i64` field by serde_json.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Literal {
    /// Valid JSON of the wrong type: 400 `invalid_request`.
    WrongType,
    /// Not representable as a JSON number (an exponent beyond f64): 400 `malformed_json`.
    OutOfRange,
}

impl Number {
    /// Returns the JSON text of the number.
    pub fn json(&self) -> String {
        match self {
            Number::Int(value) => value.to_string(),
            Number::Literal(text, _) => (*text).to_owned(),
        }
    }
}

/// Generates durations: valid seconds, the bounds and one past them, the extremes of i64, and
/// literals of the wrong type.
pub fn duration() -> BoxedStrategy<Number> {
    prop_oneof![
        6 => (0..=DURATION_MAX).prop_map(Number::Int),
        2 => select(vec![0, DURATION_MAX, DURATION_MAX + 1, -1, i64::MAX, i64::MIN])
            .prop_map(Number::Int),
        2 => select(vec![
            Number::Literal("90.5", Literal::WrongType),
            Number::Literal("90.0", Literal::WrongType),
            Number::Literal("1e3", Literal::WrongType),
            Number::Literal("99999999999999999999", Literal::WrongType),
            Number::Literal("18446744073709551615", Literal::WrongType),
            Number::Literal("\"90\"", Literal::WrongType),
            Number::Literal("1e400", Literal::OutOfRange),
        ]),
    ]
    .boxed()
}

/// Generates `limit` or `offset` query values: absent, valid, or breaking the rule.
pub fn page_value(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        3 => Just(None),
        4 => select(valid).prop_map(|value| Some(value.to_owned())),
        1 => select(invalid).prop_map(|value| Some(value.to_owned())),
    ]
    .boxed()
}

/// Valid `limit` values.
pub const LIMITS: &[&str] = &["1", "2", "3", "5", "20", "100"];
/// Invalid `limit` values.
pub const BAD_LIMITS: &[&str] = &["0", "101", "-1", "abc", ""];
/// Valid `offset` values.
pub const OFFSETS: &[&str] = &["0", "1", "2", "5", "1000"];
/// Invalid `offset` values.
pub const BAD_OFFSETS: &[&str] = &["-1", "1.5", "x"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_text_counts_characters() {
        let text = wide_text(201);

        assert_eq!(text.chars().count(), 201);
        assert!(
            text.len() > 201,
            "multi-byte characters make it longer in bytes"
        );
    }

    #[test]
    fn case_changes_ascii_only() {
        assert_eq!(Case::Upper.apply("jos\u{e9}@x.test"), "JOS\u{e9}@X.TEST");
        assert_eq!(Case::Lower.apply("Bob@Example.Test"), "bob@example.test");
    }

    #[test]
    fn number_literal_is_sent_verbatim() {
        assert_eq!(
            Number::Literal("1e400", Literal::OutOfRange).json(),
            "1e400"
        );
        assert_eq!(Number::Int(-1).json(), "-1");
    }
}
