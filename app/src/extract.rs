//! Request extractors that reject with the API's error body: JSON bodies,
//! query strings and ids in the path.
//!
//! Rule for bad input:
//! - a body that is not JSON is 400 `malformed_json`;
//! - JSON of the wrong shape (unknown field, missing field, null or wrong
//!   JSON type) is 400 `invalid_request`;
//! - a value of the right type that breaks a field rule is 422
//!   `validation_failed`, which the handlers check.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};

/// A JSON request body, deserialized into `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(ApiError::generic(ErrorCode::UnsupportedMediaType));
        }

        // The body limit (axum's DefaultBodyLimit, set on the router) turns
        // into a 413 here.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::generic(ErrorCode::PayloadTooLarge)
                } else {
                    ApiError::invalid_request("request body could not be read")
                        .with_cause(anyhow::anyhow!(rejection.body_text()))
                }
            })?;

        parse_json(&bytes).map(JsonBody)
    }
}

/// Accepts one `Content-Type` of `application/json` or `application/*+json`,
/// with parameters such as `charset=utf-8`.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// Parses a JSON object into `T`, with the error rule of this module.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde also fills a struct from a JSON array, by position; only objects
    // are request bodies here.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::invalid_request(
                "request body must be a JSON object",
            )),
            Err(_) => Err(ApiError::generic(ErrorCode::MalformedJson)),
        };
    }

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| match err
        .inner()
        .classify()
    {
        serde_json::error::Category::Data => ApiError::invalid_request(describe_shape_error(&err)),
        _ => ApiError::generic(ErrorCode::MalformedJson),
    })?;

    // Trailing characters after the document.
    deserializer
        .end()
        .map_err(|_| ApiError::generic(ErrorCode::MalformedJson))?;
    Ok(value)
}

/// Describes a shape error without repeating any value from the body
/// (serde's "invalid type" messages quote the value, which may be a password).
fn describe_shape_error(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    let message = inner.split(" at line ").next().unwrap_or_default();

    // serde's "unknown field" and "missing field" messages name fields only.
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = rest.split(", expected").next().unwrap_or(rest);
        return format!("request body has an unknown field {field}");
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("request body is missing the field {field}");
    }

    if !message.starts_with("invalid type") {
        // Such as "invalid value: integer `-1`, expected u32".
        return format!("field `{path}` has an invalid value for its JSON type");
    }
    let expected = match message.split_once(", expected ") {
        // serde names Rust integer types ("i64", "u32").
        Some((_, rust_type)) if rust_type.starts_with(['i', 'u']) && rust_type.len() <= 5 => {
            "an integer"
        }
        Some((_, expected)) => expected,
        None => "another type",
    };
    format!("field `{path}` has the wrong JSON type or is null: expected {expected}")
}

/// Deserializes a field that may be absent but, when present, must not be
/// null. Use with `#[serde(default, deserialize_with = "non_null")]` on an
/// `Option<T>`.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A query string deserialized into `T`; unknown or repeated parameters are
/// 400 `invalid_request`.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_request(format!(
                "invalid query string: {}",
                rejection
                    .body_text()
                    .trim_start_matches("Failed to deserialize query string: ")
            ))),
        }
    }
}

/// Parses an id from the path. A value that is not a UUID cannot name an
/// existing resource, so it is 404 `not_found` like an unknown id.
pub fn parse_path_id(raw: &str, resource: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::not_found(resource))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default, deserialize_with = "non_null")]
        count: Option<u32>,
    }

    fn error_of(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).expect_err("body should be rejected")
    }

    #[test]
    fn valid_body_parses() {
        let body: Body = parse_json(br#"{"name":"a","count":3}"#).expect("valid body");

        assert_eq!(body.name, "a");
        assert_eq!(body.count, Some(3));
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        for json in ["{", "", "not json", "[1,", r#"{"name":"a"} trailing"#] {
            assert_eq!(error_of(json).code(), ErrorCode::MalformedJson, "{json:?}");
        }
    }

    #[test]
    fn shape_errors_are_invalid_request() {
        let cases = [
            (r#"{"name":"a","extra":1}"#, "has an unknown field `extra`"),
            (r#"{}"#, "is missing the field `name`"),
            (
                r#"{"name":5}"#,
                "field `name` has the wrong JSON type or is null",
            ),
            (
                r#"{"name":"a","count":null}"#,
                "field `count` has the wrong JSON type",
            ),
            (r#"{"name":"a","count":1.5}"#, "expected an integer"),
            (
                r#"{"name":"a","count":-1}"#,
                "field `count` has an invalid value",
            ),
            (r#"["a"]"#, "request body must be a JSON object"),
            (r#""text""#, "request body must be a JSON object"),
            (r#"null"#, "request body must be a JSON object"),
        ];
        for (json, expected) in cases {
            let error = error_of(json);

            assert_eq!(error.code(), ErrorCode::InvalidRequest, "{json}");
            assert!(
                error.message().contains(expected),
                "{json}: message {:?} should contain {expected:?}",
                error.message()
            );
        }
    }

    #[test]
    fn shape_error_hides_value() {
        let error = error_of(r#"{"name":"a","count":"canary-secret-5"}"#);

        assert!(
            !error.message().contains("canary-secret-5"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn content_types_accepted() {
        let cases = [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("json", false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));

            assert_eq!(has_json_content_type(&headers), expected, "{value}");
        }
        assert!(!has_json_content_type(&HeaderMap::new()), "missing header");
    }

    #[test]
    fn two_content_types_rejected() {
        let mut headers = HeaderMap::new();
        headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));

        assert!(!has_json_content_type(&headers));
    }

    #[test]
    fn path_id_must_be_uuid() {
        let id = "6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11";

        assert_eq!(parse_path_id(id, "user").unwrap().to_string(), id);
        assert_eq!(
            parse_path_id("42", "user").unwrap_err().code(),
            ErrorCode::NotFound
        );
    }
}
