//! Scanning of JSON documents: every string value and object key, with its field path.

use serde_json::Value;

use super::excerpt::excerpt;
use super::{Detector, Finding, Location, Scanner};

/// Scans `value` and returns the findings, located by JSON path (`$.items[0].email`).
pub(crate) fn scan(scanner: &Scanner, source: &str, value: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut path = String::from("$");
    walk(scanner, source, value, &mut path, &mut findings);
    findings
}

fn walk(
    scanner: &Scanner,
    source: &str,
    value: &Value,
    path: &mut String,
    findings: &mut Vec<Finding>,
) {
    match value {
        Value::String(text) => scan_string(scanner, source, text, path, findings),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                walk(scanner, source, item, path, findings);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                push_key(scanner, path, key);
                // A key can carry a secret too, such as a hash used as a map key.
                scan_string(scanner, source, key, path, findings);
                walk(scanner, source, item, path, findings);
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn scan_string(
    scanner: &Scanner,
    source: &str,
    text: &str,
    path: &str,
    findings: &mut Vec<Finding>,
) {
    let bytes = text.as_bytes();
    for hit in scanner.hits(bytes, 0) {
        findings.push(Finding {
            source: source.to_owned(),
            location: Location::Field {
                path: path.to_owned(),
                column: hit.start as u64 + 1,
            },
            label: scanner.label(hit.detector).to_owned(),
            exact: matches!(hit.detector, Detector::Canary(_)),
            excerpt: excerpt(scanner, bytes, &hit),
        });
    }
}

/// Appends `.key` for identifier-like keys and `["key"]` (JSON-escaped) for the others. A key
/// that contains a secret is shown as `[…]`, so that the path never reveals it.
fn push_key(scanner: &Scanner, path: &mut String, key: &str) {
    if scanner.is_match(key.as_bytes()) {
        path.push_str("[…]");
        return;
    }
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
}
