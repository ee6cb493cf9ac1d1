//! The API's one error type and the error body every failed request gets:
//! `{"error":{"code":C,"message":M,"request_id":R}}`.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::{DbError, DbErrorKind};

/// Stable error codes. Clients branch on these, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedJson,
    InvalidRequest,
    InvalidCredentials,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    InvalidReference,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// Returns the `code` text of the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidReference => "invalid_reference",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed | Self::InvalidReference => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Code for an error response that the app did not build itself, such
    /// as a rejection inside axum.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::InvalidCredentials,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::ValidationFailed,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            status if status.is_client_error() => Self::InvalidRequest,
            _ => Self::Internal,
        }
    }

    /// Message used when nothing more specific is known.
    pub fn generic_message(self) -> &'static str {
        match self {
            Self::MalformedJson => "request body is not valid JSON",
            Self::InvalidRequest => "request is invalid",
            Self::InvalidCredentials => "email or password is incorrect",
            Self::NotFound => "resource not found",
            Self::MethodNotAllowed => "method not allowed on this path; see the Allow header",
            Self::Conflict => "request conflicts with the current state of the resource",
            Self::PayloadTooLarge => "request body is larger than 65536 bytes",
            Self::UnsupportedMediaType => "Content-Type must be application/json",
            Self::ValidationFailed => "one or more fields are invalid",
            Self::InvalidReference => "a referenced resource does not exist",
            Self::Internal => "internal error; the server log has details under this request id",
            Self::Unavailable => "service temporarily unavailable; retry later",
        }
    }
}

/// A failed request: a code, a message safe to show to the client and,
/// for the log only, the internal cause.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    cause: Option<anyhow::Error>,
}

impl ApiError {
    /// Creates an error with a message written for the client.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            cause: None,
        }
    }

    /// Creates an error with the code's generic message.
    pub fn generic(code: ErrorCode) -> Self {
        Self::new(code, code.generic_message())
    }

    /// 422 `validation_failed` with a message that names the field and the rule.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// 404 `not_found` for the named kind of resource.
    pub fn not_found(resource: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{resource} not found"))
    }

    /// 500 `internal`; `cause` goes to the log only.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::generic(ErrorCode::Internal).with_cause(cause)
    }

    /// Attaches the internal cause, which is logged with the request id.
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// Code of the error.
    #[cfg(test)]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Client-facing message.
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<DbError> for ApiError {
    /// Maps a database error for a request that creates or updates a row.
    /// Deletes and path references map foreign-key errors themselves.
    fn from(error: DbError) -> Self {
        let api_error = match error.kind {
            DbErrorKind::UniqueViolation => Self::generic(ErrorCode::Conflict),
            DbErrorKind::ForeignKeyViolation => Self::generic(ErrorCode::InvalidReference),
            DbErrorKind::InvalidData => Self::generic(ErrorCode::ValidationFailed),
            DbErrorKind::Unavailable => Self::generic(ErrorCode::Unavailable),
            DbErrorKind::Other => Self::generic(ErrorCode::Internal),
        };
        api_error.with_cause(error)
    }
}

/// The code and message of an error response, left in the response's
/// extensions for [`render`], which adds the request id.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The handler runs inside the request's span, so these events carry
        // the request id.
        if let Some(cause) = &self.cause {
            if self.code.status().is_server_error() {
                tracing::error!(code = self.code.as_str(), cause = %format!("{cause:#}"), "request failed");
            } else {
                tracing::info!(code = self.code.as_str(), cause = %format!("{cause:#}"), "request rejected");
            }
        }

        #[cfg(feature = "failpoints")]
        let message = match &self.cause {
            Some(cause)
                if cause.downcast_ref::<DbError>().is_some()
                    && crate::faults::is_active(crate::faults::ERROR_DATABASE_MESSAGE) =>
            {
                Cow::Owned(format!("{cause:#}"))
            }
            _ => self.message,
        };
        #[cfg(not(feature = "failpoints"))]
        let message = self.message;

        let mut response = self.code.status().into_response();
        response.extensions_mut().insert(ErrorBody {
            code: self.code,
            message,
        });
        response
    }
}

/// Marks an error-status response whose body is already final, such as the
/// 503 from `/readyz`; [`render`] leaves it unchanged.
#[derive(Debug, Clone, Copy)]
pub struct FinalBody;

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Writes the error body into every response with a 4xx or 5xx status:
/// from its [`ErrorBody`] when the app built it, else from the status alone
/// (axum's own 404, 405 and rejections). Responses below 400 and those
/// marked [`FinalBody`] pass unchanged.
pub fn render(response: Response, request_id: &str) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || response.extensions().get::<FinalBody>().is_some() {
        return response;
    }

    let (mut parts, _body) = response.into_parts();
    let body = parts.extensions.remove::<ErrorBody>().unwrap_or_else(|| {
        let code = ErrorCode::from_status(status);
        ErrorBody {
            code,
            message: Cow::Borrowed(code.generic_message()),
        }
    });

    let envelope = ErrorEnvelope {
        error: ErrorFields {
            code: body.code.as_str(),
            message: &body.message,
            request_id,
        },
    };
    let mut rendered = (status, Json(envelope)).into_response();

    // Keep headers such as Allow on a 405; replace those that described the
    // old body.
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in parts.headers.iter() {
        rendered.headers_mut().insert(name.clone(), value.clone());
    }
    rendered
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body should be readable");
        serde_json::from_slice(&bytes).expect("body should be JSON")
    }

    #[test]
    fn codes_map_to_statuses() {
        let cases = [
            (ErrorCode::MalformedJson, 400),
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::InvalidCredentials, 401),
            (ErrorCode::NotFound, 404),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::Conflict, 409),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::UnsupportedMediaType, 415),
            (ErrorCode::ValidationFailed, 422),
            (ErrorCode::InvalidReference, 422),
            (ErrorCode::Internal, 500),
            (ErrorCode::Unavailable, 503),
        ];
        for (code, status) in cases {
            assert_eq!(code.status().as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn db_errors_map_to_codes() {
        let cases = [
            (DbErrorKind::UniqueViolation, ErrorCode::Conflict),
            (
                DbErrorKind::ForeignKeyViolation,
                ErrorCode::InvalidReference,
            ),
            (DbErrorKind::InvalidData, ErrorCode::ValidationFailed),
            (DbErrorKind::Unavailable, ErrorCode::Unavailable),
            (DbErrorKind::Other, ErrorCode::Internal),
        ];
        for (kind, expected) in cases {
            let error = DbError {
                kind,
                error: sqlx::Error::RowNotFound,
            };

            assert_eq!(ApiError::from(error).code(), expected, "{kind:?}");
        }
    }

    #[test]
    fn db_error_message_is_generic() {
        let error = DbError {
            kind: DbErrorKind::Unavailable,
            error: sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        };

        let api_error = ApiError::from(error);

        assert_eq!(
            api_error.message(),
            ErrorCode::Unavailable.generic_message()
        );
    }

    #[tokio::test]
    async fn render_uses_error_body() {
        let response = ApiError::validation("title must be 1 to 200 characters").into_response();

        let rendered = render(response, "req-1");

        assert_eq!(rendered.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body_json(rendered).await,
            serde_json::json!({"error": {
                "code": "validation_failed",
                "message": "title must be 1 to 200 characters",
                "request_id": "req-1",
            }})
        );
    }

    #[tokio::test]
    async fn render_fills_bare_status() {
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, "plain text").into_response();
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("GET,HEAD"));

        let rendered = render(response, "req-2");

        assert_eq!(rendered.headers()["allow"], "GET,HEAD");
        assert_eq!(rendered.headers()[CONTENT_TYPE], "application/json");
        let body = body_json(rendered).await;
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(body["error"]["request_id"], "req-2");
    }

    #[tokio::test]
    async fn render_passes_success() {
        let response = (StatusCode::OK, "fine").into_response();

        let rendered = render(response, "req-3");

        assert_eq!(rendered.status(), StatusCode::OK);
        let bytes = to_bytes(rendered.into_body(), 64).await.unwrap();
        assert_eq!(&bytes[..], b"fine");
    }
}
