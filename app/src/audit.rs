//! Audit log entries: who changed which entity, and how. Every successful
//! create, update and delete writes one entry in the transaction of the
//! change (see `db::audit`); reads and logins write none.

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::ApiError;

/// Request header that names the actor.
pub const ACTOR_HEADER: &str = "x-actor";
/// Actor recorded when the request has no `X-Actor` header.
pub const ANONYMOUS: &str = "anonymous";
/// Maximum actor length in characters.
pub const ACTOR_MAX_CHARS: usize = 100;

/// Author of a change: the `X-Actor` header, or `anonymous` without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// Reads the actor from the header value. An empty value, one longer than
    /// 100 characters, one that is not UTF-8 or one with control characters
    /// is 400 `invalid_request`.
    pub fn from_header(value: Option<&HeaderValue>) -> Result<Self, ApiError> {
        let Some(value) = value else {
            return Ok(Self(ANONYMOUS.to_owned()));
        };
        let invalid = || {
            ApiError::invalid_request(format!(
                "X-Actor must be 1 to {ACTOR_MAX_CHARS} UTF-8 characters without control characters"
            ))
        };
        let text = std::str::from_utf8(value.as_bytes()).map_err(|_| invalid())?;
        let chars = text.chars().count();
        if chars == 0 || chars > ACTOR_MAX_CHARS || text.chars().any(char::is_control) {
            return Err(invalid());
        }
        Ok(Self(text.to_owned()))
    }

    /// Returns the actor's name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_header(parts.headers.get(ACTOR_HEADER))
    }
}

/// Kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// Text stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// Kind of entity changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    User,
    Video,
    Localization,
}

impl EntityType {
    /// Text stored in `audit_log.entity_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Video => "video",
            Self::Localization => "localization",
        }
    }
}

/// One audit log row to write.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    pub actor: &'a Actor,
    pub action: Action,
    pub entity_type: EntityType,
    pub entity_id: Uuid,
    /// The entity after the change, as the API returns it, or `None` for a delete.
    pub entity: Option<serde_json::Value>,
}

/// Converts an entity to the JSON stored in `audit_log.entity`: the API's representation,
/// which has no secret field.
pub fn entity_json<T: serde::Serialize>(entity: &T) -> Option<serde_json::Value> {
    // The model types are plain structs of strings, numbers, UUIDs and timestamps, which
    // serde_json serializes without error. A type that failed would leave `entity` NULL.
    serde_json::to_value(entity).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn missing_header_is_anonymous() {
        let actor = Actor::from_header(None).expect("no header is allowed");

        assert_eq!(actor.as_str(), "anonymous");
    }

    #[test]
    fn header_value_becomes_actor() {
        let value = HeaderValue::from_static("ops-bot");

        let actor = Actor::from_header(Some(&value)).expect("valid actor");

        assert_eq!(actor.as_str(), "ops-bot");
    }

    #[test]
    fn utf8_actor_accepted() {
        let value = HeaderValue::from_bytes("José".as_bytes()).expect("UTF-8 header bytes");

        let actor = Actor::from_header(Some(&value)).expect("UTF-8 actor");

        assert_eq!(actor.as_str(), "José");
    }

    #[test]
    fn invalid_actors_rejected() {
        let too_long = "a".repeat(101);
        let cases: [&[u8]; 4] = [b"", too_long.as_bytes(), b"\xff\xfe", b"tab\there"];
        for bytes in cases {
            let value = HeaderValue::from_bytes(bytes).expect("header bytes");

            let error = Actor::from_header(Some(&value)).expect_err("actor should be rejected");

            assert_eq!(error.code(), ErrorCode::InvalidRequest, "{bytes:?}");
        }
    }

    #[test]
    fn hundred_characters_accepted() {
        let value = HeaderValue::from_str(&"a".repeat(100)).expect("header");

        assert!(Actor::from_header(Some(&value)).is_ok());
    }
}
