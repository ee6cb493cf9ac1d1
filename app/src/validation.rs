//! Field rules checked before any database call. A broken rule is 422
//! `validation_failed` with a message that names the field and the rule but
//! never repeats the value.

use uuid::Uuid;

use crate::error::ApiError;
use crate::language_tag;

/// Maximum email length in characters (RFC 5321's path limit less the angle
/// brackets).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Display name length in characters.
pub const DISPLAY_NAME_CHARS: (usize, usize) = (1, 100);
/// Password length in characters.
pub const PASSWORD_CHARS: (usize, usize) = (8, 128);
/// Video title length in characters.
pub const TITLE_CHARS: (usize, usize) = (1, 200);
/// Maximum video duration in seconds (24 hours).
pub const MAX_DURATION_SECONDS: i64 = 86_400;

/// Checks a text field's length in Unicode characters. NUL is rejected
/// because Postgres text cannot store it.
pub fn text(field: &str, value: &str, (min, max): (usize, usize)) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ApiError::validation(format!(
            "{field} must be {min} to {max} characters long"
        )));
    }
    if value.contains('\0') {
        return Err(ApiError::validation(format!(
            "{field} must not contain the NUL character"
        )));
    }
    Ok(())
}

/// Checks an email address: `local@domain`, both parts non-empty, no
/// whitespace or control characters, at most 254 characters.
pub fn email(value: &str) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::validation(format!(
            "email must be an address of the form local@domain with at most \
             {EMAIL_MAX_CHARS} characters and no spaces"
        ))
    };
    if value.chars().count() > EMAIL_MAX_CHARS {
        return Err(invalid());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    match value.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(invalid()),
    }
}

/// Checks a new password's length.
pub fn password(value: &str) -> Result<(), ApiError> {
    let (min, max) = PASSWORD_CHARS;
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ApiError::validation(format!(
            "password must be {min} to {max} characters long"
        )));
    }
    Ok(())
}

/// Checks a BCP-47 tag and returns it in RFC 5646's recommended case.
pub fn language_tag(field: &str, value: &str) -> Result<String, ApiError> {
    language_tag::normalize(value).ok_or_else(|| {
        ApiError::validation(format!(
            "{field} must be a well-formed BCP-47 language tag such as en, pt-BR or \
             zh-Hant-TW, at most {} characters",
            language_tag::MAX_LEN
        ))
    })
}

/// Checks a video duration in whole seconds.
pub fn duration_seconds(value: i64) -> Result<i32, ApiError> {
    if !(0..=MAX_DURATION_SECONDS).contains(&value) {
        return Err(ApiError::validation(format!(
            "duration_seconds must be an integer from 0 to {MAX_DURATION_SECONDS}"
        )));
    }
    Ok(value as i32)
}

/// Parses a UUID given in a body field or query parameter.
pub fn uuid(field: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(value).map_err(|_| ApiError::validation(format!("{field} must be a UUID")))
}

/// Parses one of an enum's texts.
pub fn one_of<T>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    values: &[&str],
) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| {
        ApiError::validation(format!("{field} must be one of: {}", values.join(", ")))
    })
}

/// Rejects a PATCH body without any field: it would change nothing.
pub fn some_change(any_field_present: bool) -> Result<(), ApiError> {
    if any_field_present {
        Ok(())
    } else {
        Err(ApiError::validation(
            "request body must contain at least one field to change",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn text_counts_characters() {
        assert!(text("title", "é", TITLE_CHARS).is_ok(), "one character");
        assert!(
            text("title", &"é".repeat(200), TITLE_CHARS).is_ok(),
            "200 characters"
        );
        assert!(
            text("title", &"é".repeat(201), TITLE_CHARS).is_err(),
            "201 characters"
        );
        assert!(text("title", "", TITLE_CHARS).is_err(), "empty");
    }

    #[test]
    fn text_keeps_whitespace() {
        assert!(
            text("display_name", "   ", DISPLAY_NAME_CHARS).is_ok(),
            "spaces are stored as sent, not trimmed"
        );
    }

    #[test]
    fn text_rejects_nul() {
        let error = text("title", "a\0b", TITLE_CHARS).unwrap_err();

        assert_eq!(error.code(), ErrorCode::ValidationFailed);
    }

    #[test]
    fn emails_checked() {
        let long_local = "a".repeat(EMAIL_MAX_CHARS - 2);
        let cases = [
            ("ann@example.com", true),
            ("Ann.Lee+tag@Example.COM", true),
            ("a@b", true),
            ("no-at-sign", false),
            ("@example.com", false),
            ("ann@", false),
            ("ann @example.com", false),
            ("ann@exa\tmple.com", false),
        ];
        for (value, ok) in cases {
            assert_eq!(email(value).is_ok(), ok, "{value:?}");
        }
        assert!(email(&format!("{long_local}@b")).is_ok(), "254 characters");
        assert!(
            email(&format!("{long_local}x@b")).is_err(),
            "255 characters"
        );
    }

    #[test]
    fn password_length_bounds() {
        assert!(password(&"p".repeat(7)).is_err(), "7 characters");
        assert!(password(&"p".repeat(8)).is_ok(), "8 characters");
        assert!(password(&"p".repeat(128)).is_ok(), "128 characters");
        assert!(password(&"p".repeat(129)).is_err(), "129 characters");
    }

    #[test]
    fn password_error_hides_value() {
        let error = password("canary").unwrap_err();

        assert!(!error.message().contains("canary"), "{}", error.message());
    }

    #[test]
    fn duration_bounds() {
        assert_eq!(duration_seconds(0).ok(), Some(0));
        assert_eq!(duration_seconds(86_400).ok(), Some(86_400));
        assert!(duration_seconds(-1).is_err(), "negative");
        assert!(duration_seconds(86_401).is_err(), "over a day");
        assert!(duration_seconds(i64::MAX).is_err(), "i64::MAX");
    }

    #[test]
    fn uuid_field_parsed() {
        assert!(uuid("owner_id", "6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11").is_ok());
        assert_eq!(
            uuid("owner_id", "nope").unwrap_err().code(),
            ErrorCode::ValidationFailed
        );
    }

    #[test]
    fn language_tag_normalized() {
        assert_eq!(
            language_tag("source_language", "en-us").ok().as_deref(),
            Some("en-US")
        );
        assert_eq!(
            language_tag("source_language", "english!")
                .unwrap_err()
                .code(),
            ErrorCode::ValidationFailed
        );
    }

    #[test]
    fn empty_patch_rejected() {
        assert!(some_change(true).is_ok());
        assert_eq!(
            some_change(false).unwrap_err().code(),
            ErrorCode::ValidationFailed
        );
    }
}
