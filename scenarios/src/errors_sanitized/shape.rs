//! The public shape of an error response, as fixed by the snapshots in `snapshots/`: status,
//! `Content-Type`, `Allow` and the body, with the request id and every UUID redacted.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::catalogue::ErrorClass;
use crate::snapshot::{
    SnapshotError, describe_first_difference, read_snapshot_body, snapshot_path,
};

/// Text that replaces the request id.
pub const REQUEST_ID_REDACTION: &str = "[request_id]";
/// Text that replaces a UUID.
pub const ID_REDACTION: &str = "[id]";

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
        .expect("valid regex")
});

/// The parts of a response that make up its public shape.
pub struct ShapeParts<'a> {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// `Allow` header (on 405).
    pub allow: Option<&'a str>,
    /// `X-Request-Id` header.
    pub request_id: Option<&'a str>,
    /// Body text.
    pub body: &'a str,
}

/// Command that writes the snapshots from a run.
const UPDATE_COMMAND: &str =
    "`INSTA_UPDATE=always cargo nextest run -p scenarios --test errors_sanitized error_shapes`";

/// Returns the snapshot name of a class: the file is `snapshots/error_<class>.snap`.
pub fn snapshot_name(class: ErrorClass) -> String {
    format!("error_{}", class.id())
}

/// Renders the public shape as text, with the request id and UUIDs redacted.
pub fn render(parts: &ShapeParts<'_>) -> String {
    let mut text = format!("status: {}\n", parts.status);
    text.push_str(&format!(
        "content-type: {}\n",
        parts.content_type.unwrap_or("(none)")
    ));
    if let Some(allow) = parts.allow {
        text.push_str(&format!("allow: {allow}\n"));
    }

    let body = match parts.request_id {
        Some(id) if !id.is_empty() => parts.body.replace(id, REQUEST_ID_REDACTION),
        _ => parts.body.to_owned(),
    };
    let body = UUID.replace_all(&body, ID_REDACTION);
    let body = match serde_json::from_str::<Value>(&body) {
        Ok(json) => serde_json::to_string_pretty(&json).expect("a JSON value always serializes"),
        Err(_) => body.into_owned(),
    };
    text.push_str("body:\n");
    text.push_str(&body);
    text
}

/// Compares a class's shape with its committed snapshot. Returns a description of the
/// difference, or of the missing snapshot, or `None` when they are equal.
pub fn compare_with_snapshot(class: ErrorClass, shape: &str) -> Option<String> {
    let path = snapshot_path(&snapshot_name(class));
    let expected = match read_snapshot_body(&path) {
        Ok(expected) => expected,
        Err(SnapshotError::Read { source, .. }) => {
            return Some(format!(
                "cannot read snapshot {}: {source}; create it with {UPDATE_COMMAND}",
                path.display()
            ));
        }
        Err(error) => return Some(error.to_string()),
    };
    describe_first_difference(&expected, shape).map(|difference| {
        format!(
            "public shape differs from {} at {difference}; if the change is intended, update it \
             with {UPDATE_COMMAND}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_redacts_ids() {
        let body = r#"{"error":{"code":"not_found","message":"video 6f1c2c9e-2f7b-4f8e-9a59-6c1c1f0e4a11 not found","request_id":"rid-1"}}"#;
        let parts = ShapeParts {
            status: 404,
            content_type: Some("application/json"),
            allow: None,
            request_id: Some("rid-1"),
            body,
        };

        let shape = render(&parts);

        assert_eq!(
            shape,
            "status: 404\ncontent-type: application/json\nbody:\n{\n  \"error\": {\n    \"code\": \
             \"not_found\",\n    \"message\": \"video [id] not found\",\n    \"request_id\": \
             \"[request_id]\"\n  }\n}"
        );
    }

    #[test]
    fn render_keeps_allow_and_plain_bodies() {
        let parts = ShapeParts {
            status: 405,
            content_type: None,
            allow: Some("GET,HEAD"),
            request_id: None,
            body: "plain",
        };

        let shape = render(&parts);

        assert_eq!(
            shape,
            "status: 405\ncontent-type: (none)\nallow: GET,HEAD\nbody:\nplain"
        );
    }
}
