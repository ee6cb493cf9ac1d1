//! Comparison of one HTTP response with the model's outcome of the call: the status, the error
//! shape and code, and every field of every returned resource.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::calls::Kind;
use super::model::{Outcome, State};

/// A response as received.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `X-Request-Id` header.
    pub request_id: Option<String>,
    /// `Location` header.
    pub location: Option<String>,
    /// Body text.
    pub body: String,
}

/// The server-side facts of one resource that the model cannot know: its id and timestamps,
/// as the last response showed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// Id.
    pub id: Uuid,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
}

/// The known facts of every slot, by kind.
#[derive(Debug, Default)]
pub struct KnownSlots {
    /// Users by slot.
    pub users: Vec<Known>,
    /// Videos by slot.
    pub videos: Vec<Known>,
    /// Localizations by slot.
    pub localizations: Vec<Known>,
}

impl KnownSlots {
    /// Returns the slots of `kind`.
    pub fn of(&self, kind: Kind) -> &Vec<Known> {
        match kind {
            Kind::User => &self.users,
            Kind::Video => &self.videos,
            Kind::Localization => &self.localizations,
        }
    }

    fn of_mut(&mut self, kind: Kind) -> &mut Vec<Known> {
        match kind {
            Kind::User => &mut self.users,
            Kind::Video => &mut self.videos,
            Kind::Localization => &mut self.localizations,
        }
    }

    /// Returns the id of a slot, if the slot has been created.
    pub fn id(&self, kind: Kind, slot: usize) -> Option<Uuid> {
        self.of(kind).get(slot).map(|known| known.id)
    }
}

/// Checks `response` against `state.outcome` and records the ids and timestamps it returns.
/// Returns a description of the first difference.
pub fn check(response: &Response, state: &State, known: &mut KnownSlots) -> Result<(), String> {
    if response.status >= 500 {
        return Err(format!(
            "status {}: no input may produce a 5xx{}",
            response.status,
            error_code_suffix(response)
        ));
    }
    if response.request_id.as_deref().is_none_or(str::is_empty) {
        return Err("response has no X-Request-Id header".to_owned());
    }

    match &state.outcome {
        Outcome::Nothing => Ok(()),
        Outcome::Error { status, code } => check_error(response, *status, code),
        Outcome::Created(kind, slot) => {
            let object = expect_json(response, 201)?;
            let fields = resource(&object, *kind, *slot, state, known, Timestamps::New)?;
            let expected_location = format!("/v1/{}s/{}", kind.entity_type(), fields.id);
            if response.location.as_deref() != Some(expected_location.as_str()) {
                return Err(format!(
                    "Location header {:?}, expected {expected_location:?}",
                    response.location
                ));
            }
            Ok(())
        }
        Outcome::Found(kind, slot) => {
            let object = expect_json(response, 200)?;
            resource(&object, *kind, *slot, state, known, Timestamps::Unchanged).map(|_| ())
        }
        Outcome::Updated(kind, slot) => {
            let object = expect_json(response, 200)?;
            resource(&object, *kind, *slot, state, known, Timestamps::Updated).map(|_| ())
        }
        Outcome::Deleted => {
            if response.status != 204 {
                return Err(format!(
                    "status {}, expected 204{}",
                    response.status,
                    error_code_suffix(response)
                ));
            }
            if !response.body.is_empty() {
                return Err("a 204 response has a body".to_owned());
            }
            Ok(())
        }
        Outcome::Page {
            kind,
            slots,
            limit,
            offset,
            total,
        } => {
            let page = expect_json(response, 200)?;
            for (field, expected) in [("limit", limit), ("offset", offset), ("total", total)] {
                let seen = page.get(field).and_then(Value::as_i64);
                if seen != Some(*expected) {
                    return Err(format!(
                        "page field `{field}`: response {seen:?}, model {expected}"
                    ));
                }
            }
            let items = page
                .get("items")
                .and_then(Value::as_array)
                .ok_or("page has no `items` array")?;
            if items.len() != slots.len() {
                return Err(format!(
                    "page has {} items, model {} ({} slots {:?})",
                    items.len(),
                    slots.len(),
                    kind.entity_type(),
                    slots
                ));
            }
            for (index, (item, slot)) in items.iter().zip(slots).enumerate() {
                resource(item, *kind, *slot, state, known, Timestamps::Unchanged)
                    .map_err(|difference| format!("page item {index}: {difference}"))?;
            }
            Ok(())
        }
        Outcome::LoggedIn(slot) => {
            let object = expect_json(response, 200)?;
            let seen = object.get("user_id").and_then(Value::as_str);
            let expected = known.id(Kind::User, *slot).map(|id| id.to_string());
            if seen != expected.as_deref() {
                return Err(format!(
                    "field `user_id`: response {seen:?}, expected the id of user#{slot} {expected:?}"
                ));
            }
            Ok(())
        }
    }
}

/// Relation that a returned resource's timestamps must have to the known ones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timestamps {
    /// A new resource: `updated_at` equals `created_at`.
    New,
    /// A read: both equal the known values.
    Unchanged,
    /// An update: `created_at` unchanged and `updated_at` set anew. The contract does not
    /// promise that `updated_at` grows, because the database clock may step back.
    Updated,
}

fn expect_json(response: &Response, status: u16) -> Result<Value, String> {
    if response.status != status {
        return Err(format!(
            "status {}, expected {status}{}",
            response.status,
            error_code_suffix(response)
        ));
    }
    serde_json::from_str(&response.body)
        .map_err(|_| format!("status {status} but the body is not JSON"))
}

fn check_error(response: &Response, status: u16, code: &str) -> Result<(), String> {
    if response.status != status {
        return Err(format!(
            "status {}, expected {status} {code}{}",
            response.status,
            error_code_suffix(response)
        ));
    }
    let json: Value = serde_json::from_str(&response.body)
        .map_err(|_| format!("error body is not JSON: {}", truncate(&response.body)))?;
    let error = json
        .get("error")
        .and_then(Value::as_object)
        .ok_or("error body is not {\"error\": {...}}")?;
    let keys: BTreeSet<&str> = error.keys().map(String::as_str).collect();
    if keys != BTreeSet::from(["code", "message", "request_id"]) {
        return Err(format!(
            "error object has keys {keys:?}, expected code, message, request_id"
        ));
    }
    let seen_code = error.get("code").and_then(Value::as_str);
    if seen_code != Some(code) {
        return Err(format!(
            "field `error.code`: response {seen_code:?}, expected {code:?}"
        ));
    }
    if !error.get("message").is_some_and(Value::is_string) {
        return Err("field `error.message` is not a string".to_owned());
    }
    let request_id = error.get("request_id").and_then(Value::as_str);
    if request_id != response.request_id.as_deref() {
        return Err(format!(
            "field `error.request_id` {request_id:?} differs from X-Request-Id {:?}",
            response.request_id
        ));
    }
    Ok(())
}

/// Compares one returned resource with the model's slot and returns its known facts, which
/// it also records.
fn resource(
    object: &Value,
    kind: Kind,
    slot: usize,
    state: &State,
    known: &mut KnownSlots,
    timestamps: Timestamps,
) -> Result<Known, String> {
    let map = object
        .as_object()
        .ok_or_else(|| format!("{} is not a JSON object", kind.entity_type()))?;
    let expected = expected_fields(kind, slot, state);
    let mut expected_keys: BTreeSet<&str> = expected.iter().map(|(key, _)| *key).collect();
    expected_keys.extend(["id", "created_at", "updated_at"]);
    let keys: BTreeSet<&str> = map.keys().map(String::as_str).collect();
    if keys != expected_keys {
        return Err(format!(
            "{}#{slot} has fields {keys:?}, expected {expected_keys:?}",
            kind.entity_type()
        ));
    }

    for (field, value) in &expected {
        let seen = &map[*field];
        let value = match value {
            Expected::Text(text) => Value::String(text.clone()),
            Expected::Integer(number) => Value::from(*number),
            Expected::Id(other_kind, other_slot) => match known.id(*other_kind, *other_slot) {
                Some(id) => Value::String(id.to_string()),
                None => return Err(format!("{field} names a slot without an id")),
            },
        };
        if *seen != value {
            return Err(format!(
                "{}#{slot} field `{field}`: response {seen}, model {value}",
                kind.entity_type()
            ));
        }
    }

    let id = map["id"]
        .as_str()
        .and_then(|text| Uuid::parse_str(text).ok())
        .ok_or_else(|| format!("field `id` is not a UUID: {}", map["id"]))?;
    let created_at = timestamp(&map["created_at"], "created_at")?;
    let updated_at = timestamp(&map["updated_at"], "updated_at")?;
    if updated_at < created_at {
        return Err(format!(
            "updated_at {updated_at} is before created_at {created_at}"
        ));
    }
    let returned = Known {
        id,
        created_at,
        updated_at,
    };

    let slots = known.of_mut(kind);
    match timestamps {
        Timestamps::New => {
            if slots.len() != slot {
                return Err(format!(
                    "internal: created {}#{slot} but {} slots are known",
                    kind.entity_type(),
                    slots.len()
                ));
            }
            if updated_at != created_at {
                return Err(format!(
                    "a new resource has updated_at {updated_at} other than created_at {created_at}"
                ));
            }
            slots.push(returned);
        }
        Timestamps::Unchanged | Timestamps::Updated => {
            let previous = *slots
                .get(slot)
                .ok_or_else(|| format!("internal: {}#{slot} is not known", kind.entity_type()))?;
            if id != previous.id {
                return Err(format!(
                    "field `id`: response {id}, expected {} (id of {}#{slot})",
                    previous.id,
                    kind.entity_type()
                ));
            }
            if created_at != previous.created_at {
                return Err(format!(
                    "field `created_at`: response {created_at}, first returned {}",
                    previous.created_at
                ));
            }
            if timestamps == Timestamps::Unchanged && updated_at != previous.updated_at {
                return Err(format!(
                    "field `updated_at`: response {updated_at}, last returned {}",
                    previous.updated_at
                ));
            }
            slots[slot] = returned;
        }
    }
    Ok(returned)
}

/// An expected field value.
enum Expected {
    Text(String),
    Integer(i64),
    Id(Kind, usize),
}

fn expected_fields(kind: Kind, slot: usize, state: &State) -> Vec<(&'static str, Expected)> {
    match kind {
        Kind::User => {
            let user = &state.users[slot];
            vec![
                ("email", Expected::Text(user.email.clone())),
                ("display_name", Expected::Text(user.display_name.clone())),
            ]
        }
        Kind::Video => {
            let video = &state.videos[slot];
            vec![
                ("owner_id", Expected::Id(Kind::User, video.owner)),
                ("title", Expected::Text(video.title.clone())),
                (
                    "source_language",
                    Expected::Text(video.source_language.clone()),
                ),
                (
                    "duration_seconds",
                    Expected::Integer(video.duration_seconds),
                ),
                ("status", Expected::Text(video.status.clone())),
            ]
        }
        Kind::Localization => {
            let localization = &state.localizations[slot];
            vec![
                ("video_id", Expected::Id(Kind::Video, localization.video)),
                (
                    "target_language",
                    Expected::Text(localization.target_language.clone()),
                ),
                ("kind", Expected::Text(localization.kind.clone())),
                ("status", Expected::Text(localization.status.clone())),
            ]
        }
    }
}

fn timestamp(value: &Value, field: &str) -> Result<DateTime<Utc>, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("field `{field}` is not a string: {value}"))?;
    if !text.ends_with('Z') {
        return Err(format!(
            "field `{field}` is not in UTC with a Z suffix: {text}"
        ));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| format!("field `{field}` is not an RFC 3339 timestamp: {text}"))
}

fn error_code_suffix(response: &Response) -> String {
    let code = serde_json::from_str::<Value>(&response.body)
        .ok()
        .and_then(|json| {
            json.pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    match code {
        Some(code) => format!(" (error code {code:?})"),
        None => String::new(),
    }
}

fn truncate(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}...", text.chars().take(MAX).collect::<String>())
    }
}
