//! The transitions of the state machine: API calls with their inputs, and how each becomes an
//! HTTP request. Resources are named by slot (the n-th successful create of their kind), so a
//! call means the same thing in every run although the server generates new ids.

use std::fmt;

use reqwest::Method;
use uuid::Uuid;

use super::inputs::{Case, Literal, Number, Tag};
use super::model::State;

/// Kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A user.
    User,
    /// A video.
    Video,
    /// A localization.
    Localization,
}

impl Kind {
    /// `entity_type` of the resource in the audit log.
    pub fn entity_type(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Video => "video",
            Kind::Localization => "localization",
        }
    }
}

/// A resource named in a call: the slot of a resource created earlier in the sequence (it may
/// have been deleted since), or a UUID that no resource has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// The n-th resource of its kind that a call created.
    Slot(usize),
    /// A UUID built from the number, which names no resource.
    Missing(u128),
}

/// The body envelope: a valid JSON object with the right Content-Type, or one defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// `Content-Type: application/json` and a well-formed object.
    Valid,
    /// `Content-Type: application/json; charset=utf-8`, which is valid too.
    JsonWithCharset,
    /// `Content-Type: text/plain`.
    WrongContentType,
    /// No Content-Type header.
    MissingContentType,
    /// The closing brace is cut off.
    Truncated,
    /// The first string value is a lone UTF-16 surrogate escape (`"\ud800"`).
    LoneSurrogate,
    /// An extra field the contract does not define.
    UnknownField,
    /// The first field appears a second time at the end.
    DuplicateKey,
    /// The first field's value is `null`.
    NullValue,
    /// A JSON array instead of an object.
    NotAnObject,
    /// The first required field is left out (only for bodies with required fields).
    MissingField,
}

/// Problem of a body's Content-Type or JSON, which decides the app's error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyProblem {
    /// 415 `unsupported_media_type`.
    MediaType,
    /// 400 `malformed_json`: the text is not JSON.
    Syntax,
    /// 400 `invalid_request`: valid JSON of the wrong shape.
    Shape,
}

/// A JSON value of a body field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// A string.
    Str(String),
    /// A number where an integer is expected.
    Number(Number),
}

/// A password that prints as its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted: {} characters]", self.0.chars().count())
    }
}

/// Password that a login sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginPassword {
    /// The user's current password.
    Current,
    /// Another password.
    Wrong(Password),
}

/// Query of a list request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    /// `limit` as sent.
    pub limit: Option<String>,
    /// `offset` as sent.
    pub offset: Option<String>,
    /// Whether an unknown parameter (`page=2`) is added.
    pub unknown_parameter: bool,
}

/// The owner named in a video create body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerInput {
    /// A user, existing or not.
    User(Ref),
    /// A string that is not a UUID.
    NotUuid(String),
}

/// One API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    CreateUser {
        email: String,
        display_name: String,
        password: Password,
        envelope: Envelope,
    },
    GetUser {
        user: Ref,
    },
    ListUsers {
        page: PageQuery,
    },
    UpdateUser {
        user: Ref,
        email: Option<String>,
        display_name: Option<String>,
        password: Option<Password>,
        envelope: Envelope,
    },
    DeleteUser {
        user: Ref,
    },
    Login {
        user: Ref,
        email_case: Case,
        password: LoginPassword,
        envelope: Envelope,
    },
    CreateVideo {
        owner: OwnerInput,
        title: String,
        source_language: Tag,
        duration_seconds: Number,
        status: Option<String>,
        envelope: Envelope,
    },
    GetVideo {
        video: Ref,
    },
    ListVideos {
        owner: Option<OwnerInput>,
        page: PageQuery,
    },
    UpdateVideo {
        video: Ref,
        title: Option<String>,
        source_language: Option<Tag>,
        duration_seconds: Option<Number>,
        status: Option<String>,
        envelope: Envelope,
    },
    DeleteVideo {
        video: Ref,
    },
    CreateLocalization {
        video: Ref,
        target_language: Tag,
        kind: String,
        status: Option<String>,
        envelope: Envelope,
    },
    GetLocalization {
        localization: Ref,
    },
    ListLocalizations {
        video: Ref,
        page: PageQuery,
    },
    UpdateLocalization {
        localization: Ref,
        target_language: Option<Tag>,
        kind: Option<String>,
        status: Option<String>,
        envelope: Envelope,
    },
    DeleteLocalization {
        localization: Ref,
    },
}

/// Turns a resource reference into the id text of a request.
pub trait Ids {
    /// Returns the id of slot `slot` of `kind`.
    fn slot_id(&self, kind: Kind, slot: usize) -> String;

    /// Returns the id text for `reference`.
    fn id(&self, kind: Kind, reference: Ref) -> String {
        match reference {
            Ref::Slot(slot) => self.slot_id(kind, slot),
            Ref::Missing(number) => Uuid::from_u128(number).to_string(),
        }
    }
}

/// Ids written as `{user#0}`, for printing a sequence.
pub struct SymbolicIds;

impl Ids for SymbolicIds {
    fn slot_id(&self, kind: Kind, slot: usize) -> String {
        format!("{{{}#{slot}}}", kind.entity_type())
    }
}

/// An HTTP request as the driver sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Path with the query string.
    pub path: String,
    /// Content-Type header, when one is sent.
    pub content_type: Option<&'static str>,
    /// Body, when one is sent.
    pub body: Option<String>,
}

impl fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(content_type) = self.content_type
            && content_type != "application/json"
        {
            write!(f, " [Content-Type: {content_type}]")?;
        }
        if let Some(body) = &self.body {
            if self.content_type.is_none() {
                f.write_str(" [no Content-Type]")?;
            }
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

/// A body: fields in order, the envelope, and the required fields that
/// [`Envelope::MissingField`] may leave out.
pub struct Body {
    fields: Vec<(&'static str, Json)>,
    envelope: Envelope,
    required: &'static [&'static str],
}

impl Body {
    /// Describes what the app's JSON reading returns for this body: a problem, or `None` when
    /// the body reaches the field rules. Problems are found in document order, as serde_json
    /// reads a body, so the first one decides.
    pub fn problem(&self) -> Option<BodyProblem> {
        match self.envelope {
            Envelope::WrongContentType | Envelope::MissingContentType => {
                return Some(BodyProblem::MediaType);
            }
            Envelope::NotAnObject => return Some(BodyProblem::Shape),
            _ => {}
        }

        let surrogate_field = self.lone_surrogate_field();
        for (index, (_, value)) in self.fields.iter().enumerate() {
            if self.envelope == Envelope::NullValue && index == 0 {
                return Some(BodyProblem::Shape);
            }
            if surrogate_field == Some(index) {
                return Some(BodyProblem::Syntax);
            }
            if self.is_left_out(index) {
                continue;
            }
            match value {
                Json::Number(Number::Literal(_, Literal::WrongType)) => {
                    return Some(BodyProblem::Shape);
                }
                Json::Number(Number::Literal(_, Literal::OutOfRange)) => {
                    return Some(BodyProblem::Syntax);
                }
                Json::Number(Number::Int(_)) | Json::Str(_) => {}
            }
        }

        match self.envelope {
            Envelope::UnknownField => Some(BodyProblem::Shape),
            Envelope::DuplicateKey if !self.fields.is_empty() => Some(BodyProblem::Shape),
            Envelope::MissingField if self.missing_field().is_some() => Some(BodyProblem::Shape),
            Envelope::Truncated => Some(BodyProblem::Syntax),
            _ => None,
        }
    }

    /// Returns the Content-Type header to send.
    pub fn content_type(&self) -> Option<&'static str> {
        match self.envelope {
            Envelope::WrongContentType => Some("text/plain"),
            Envelope::MissingContentType => None,
            Envelope::JsonWithCharset => Some("application/json; charset=utf-8"),
            _ => Some("application/json"),
        }
    }

    /// Renders the body text, with every password field shown as its length when `redact`.
    pub fn render(&self, redact: bool) -> String {
        if self.envelope == Envelope::NotAnObject {
            return "[\"not\",\"an\",\"object\"]".to_owned();
        }
        let surrogate_field = self.lone_surrogate_field();
        let mut members = Vec::new();
        for (index, (key, value)) in self.fields.iter().enumerate() {
            if self.is_left_out(index) {
                continue;
            }
            let value_text = if self.envelope == Envelope::NullValue && index == 0 {
                "null".to_owned()
            } else if surrogate_field == Some(index) {
                "\"\\ud800\"".to_owned()
            } else {
                render_value(key, value, redact)
            };
            members.push(format!("{}:{value_text}", quote(key)));
        }
        match self.envelope {
            Envelope::UnknownField => members.push("\"unexpected_field\":1".to_owned()),
            Envelope::DuplicateKey => {
                if let Some((key, value)) = self.fields.first() {
                    members.push(format!(
                        "{}:{}",
                        quote(key),
                        render_value(key, value, redact)
                    ));
                }
            }
            _ => {}
        }

        let text = format!("{{{}}}", members.join(","));
        if self.envelope == Envelope::Truncated {
            text[..text.len() - 1].to_owned()
        } else {
            text
        }
    }

    fn lone_surrogate_field(&self) -> Option<usize> {
        if self.envelope != Envelope::LoneSurrogate {
            return None;
        }
        self.fields
            .iter()
            .position(|(_, value)| matches!(value, Json::Str(_)))
    }

    fn missing_field(&self) -> Option<usize> {
        let first_required = self.required.first()?;
        self.fields
            .iter()
            .position(|(key, _)| key == first_required)
    }

    fn is_left_out(&self, index: usize) -> bool {
        self.envelope == Envelope::MissingField && self.missing_field() == Some(index)
    }
}

fn render_value(key: &str, value: &Json, redact: bool) -> String {
    match value {
        Json::Str(text) if redact && key == "password" => {
            quote(&format!("[redacted: {} characters]", text.chars().count()))
        }
        Json::Str(text) => quote(text),
        Json::Number(number) => number.json(),
    }
}

fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn push_text(fields: &mut Vec<(&'static str, Json)>, key: &'static str, value: &Option<String>) {
    if let Some(value) = value {
        fields.push((key, Json::Str(value.clone())));
    }
}

impl Call {
    /// Returns every resource reference of the call with the kind it names, for rewriting.
    pub fn references_mut(&mut self) -> Vec<(Kind, &mut Ref)> {
        match self {
            Call::CreateUser { .. } | Call::ListUsers { .. } => Vec::new(),
            Call::GetUser { user }
            | Call::UpdateUser { user, .. }
            | Call::DeleteUser { user }
            | Call::Login { user, .. } => vec![(Kind::User, user)],
            Call::CreateVideo { owner, .. } => match owner {
                OwnerInput::User(user) => vec![(Kind::User, user)],
                OwnerInput::NotUuid(_) => Vec::new(),
            },
            Call::ListVideos { owner, .. } => match owner {
                Some(OwnerInput::User(user)) => vec![(Kind::User, user)],
                _ => Vec::new(),
            },
            Call::GetVideo { video }
            | Call::UpdateVideo { video, .. }
            | Call::DeleteVideo { video }
            | Call::CreateLocalization { video, .. }
            | Call::ListLocalizations { video, .. } => vec![(Kind::Video, video)],
            Call::GetLocalization { localization }
            | Call::UpdateLocalization { localization, .. }
            | Call::DeleteLocalization { localization } => {
                vec![(Kind::Localization, localization)]
            }
        }
    }

    /// Returns the body of the call, or `None` for calls without one. `state` is the model
    /// before the call (a login reads the user's email and password from it).
    pub fn body(&self, state: &State, ids: &dyn Ids) -> Option<Body> {
        let (fields, envelope, required): (
            Vec<(&'static str, Json)>,
            Envelope,
            &'static [&'static str],
        ) = match self {
            Call::CreateUser {
                email,
                display_name,
                password,
                envelope,
            } => (
                vec![
                    ("email", Json::Str(email.clone())),
                    ("display_name", Json::Str(display_name.clone())),
                    ("password", Json::Str(password.0.clone())),
                ],
                *envelope,
                &["email", "display_name", "password"],
            ),
            Call::UpdateUser {
                email,
                display_name,
                password,
                envelope,
                ..
            } => {
                let mut fields = Vec::new();
                push_text(&mut fields, "email", email);
                push_text(&mut fields, "display_name", display_name);
                push_text(
                    &mut fields,
                    "password",
                    &password.as_ref().map(|p| p.0.clone()),
                );
                (fields, *envelope, &[])
            }
            Call::Login {
                user,
                email_case,
                password,
                envelope,
            } => {
                let (email, current) = state.login_credentials(*user);
                let password = match password {
                    LoginPassword::Current => current,
                    LoginPassword::Wrong(wrong) => wrong.0.clone(),
                };
                (
                    vec![
                        ("email", Json::Str(email_case.apply(&email))),
                        ("password", Json::Str(password)),
                    ],
                    *envelope,
                    &["email", "password"],
                )
            }
            Call::CreateVideo {
                owner,
                title,
                source_language,
                duration_seconds,
                status,
                envelope,
            } => {
                let owner_id = match owner {
                    OwnerInput::User(user) => ids.id(Kind::User, *user),
                    OwnerInput::NotUuid(text) => text.clone(),
                };
                let mut fields = vec![
                    ("owner_id", Json::Str(owner_id)),
                    ("title", Json::Str(title.clone())),
                    ("source_language", Json::Str(source_language.sent.clone())),
                    ("duration_seconds", Json::Number(duration_seconds.clone())),
                ];
                push_text(&mut fields, "status", status);
                (
                    fields,
                    *envelope,
                    &["owner_id", "title", "source_language", "duration_seconds"],
                )
            }
            Call::UpdateVideo {
                title,
                source_language,
                duration_seconds,
                status,
                envelope,
                ..
            } => {
                let mut fields = Vec::new();
                push_text(&mut fields, "title", title);
                push_text(
                    &mut fields,
                    "source_language",
                    &source_language.as_ref().map(|tag| tag.sent.clone()),
                );
                if let Some(duration) = duration_seconds {
                    fields.push(("duration_seconds", Json::Number(duration.clone())));
                }
                push_text(&mut fields, "status", status);
                (fields, *envelope, &[])
            }
            Call::CreateLocalization {
                target_language,
                kind,
                status,
                envelope,
                ..
            } => {
                let mut fields = vec![
                    ("target_language", Json::Str(target_language.sent.clone())),
                    ("kind", Json::Str(kind.clone())),
                ];
                push_text(&mut fields, "status", status);
                (fields, *envelope, &["target_language", "kind"])
            }
            Call::UpdateLocalization {
                target_language,
                kind,
                status,
                envelope,
                ..
            } => {
                let mut fields = Vec::new();
                push_text(
                    &mut fields,
                    "target_language",
                    &target_language.as_ref().map(|tag| tag.sent.clone()),
                );
                push_text(&mut fields, "kind", kind);
                push_text(&mut fields, "status", status);
                (fields, *envelope, &[])
            }
            _ => return None,
        };
        Some(Body {
            fields,
            envelope,
            required,
        })
    }

    /// Builds the HTTP request. `state` is the model before the call.
    pub fn request(&self, state: &State, ids: &dyn Ids, redact: bool) -> HttpRequest {
        let (method, path) = self.method_and_path(ids);
        let body = self.body(state, ids);
        HttpRequest {
            method,
            path,
            content_type: body.as_ref().and_then(Body::content_type),
            body: body.map(|body| body.render(redact)),
        }
    }

    fn method_and_path(&self, ids: &dyn Ids) -> (Method, String) {
        let user = |user: &Ref| format!("/v1/users/{}", ids.id(Kind::User, *user));
        let video = |video: &Ref| format!("/v1/videos/{}", ids.id(Kind::Video, *video));
        let localization = |localization: &Ref| {
            format!(
                "/v1/localizations/{}",
                ids.id(Kind::Localization, *localization)
            )
        };
        match self {
            Call::CreateUser { .. } => (Method::POST, "/v1/users".to_owned()),
            Call::GetUser { user: target } => (Method::GET, user(target)),
            Call::ListUsers { page } => (Method::GET, format!("/v1/users{}", page.query(None))),
            Call::UpdateUser { user: target, .. } => (Method::PATCH, user(target)),
            Call::DeleteUser { user: target } => (Method::DELETE, user(target)),
            Call::Login { .. } => (Method::POST, "/v1/login".to_owned()),
            Call::CreateVideo { .. } => (Method::POST, "/v1/videos".to_owned()),
            Call::GetVideo { video: target } => (Method::GET, video(target)),
            Call::ListVideos { owner, page } => {
                let owner = owner.as_ref().map(|owner| match owner {
                    OwnerInput::User(user) => ids.id(Kind::User, *user),
                    OwnerInput::NotUuid(text) => text.clone(),
                });
                (Method::GET, format!("/v1/videos{}", page.query(owner)))
            }
            Call::UpdateVideo { video: target, .. } => (Method::PATCH, video(target)),
            Call::DeleteVideo { video: target } => (Method::DELETE, video(target)),
            Call::CreateLocalization { video: target, .. } => {
                (Method::POST, format!("{}/localizations", video(target)))
            }
            Call::GetLocalization {
                localization: target,
            } => (Method::GET, localization(target)),
            Call::ListLocalizations {
                video: target,
                page,
            } => (
                Method::GET,
                format!("{}/localizations{}", video(target), page.query(None)),
            ),
            Call::UpdateLocalization {
                localization: target,
                ..
            } => (Method::PATCH, localization(target)),
            Call::DeleteLocalization {
                localization: target,
            } => (Method::DELETE, localization(target)),
        }
    }
}

impl PageQuery {
    /// Renders the query string, with a leading `?` when it has parameters.
    fn query(&self, owner_id: Option<String>) -> String {
        let mut parameters = Vec::new();
        if let Some(owner_id) = owner_id {
            parameters.push(format!("owner_id={}", encode(&owner_id)));
        }
        if let Some(limit) = &self.limit {
            parameters.push(format!("limit={}", encode(limit)));
        }
        if let Some(offset) = &self.offset {
            parameters.push(format!("offset={}", encode(offset)));
        }
        if self.unknown_parameter {
            parameters.push("page=2".to_owned());
        }
        if parameters.is_empty() {
            String::new()
        } else {
            format!("?{}", parameters.join("&"))
        }
    }
}

/// Percent-encodes a query value (every byte outside unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~{}#".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(fields: Vec<(&'static str, Json)>, envelope: Envelope) -> Body {
        Body {
            fields,
            envelope,
            required: &["title"],
        }
    }

    fn title() -> (&'static str, Json) {
        ("title", Json::Str("Intro".to_owned()))
    }

    fn wrong_type_duration() -> (&'static str, Json) {
        (
            "duration_seconds",
            Json::Number(Number::Literal("1.5", Literal::WrongType)),
        )
    }

    #[test]
    fn valid_body_has_no_problem() {
        let body = body(vec![title()], Envelope::Valid);

        assert_eq!(body.render(false), "{\"title\":\"Intro\"}");
        assert_eq!(body.problem(), None);
    }

    #[test]
    fn truncated_body_is_syntax_problem() {
        let body = body(vec![title()], Envelope::Truncated);

        assert_eq!(body.render(false), "{\"title\":\"Intro\"");
        assert_eq!(body.problem(), Some(BodyProblem::Syntax));
    }

    #[test]
    fn earlier_wrong_type_wins_over_truncation() {
        let body = body(vec![wrong_type_duration(), title()], Envelope::Truncated);

        assert_eq!(body.problem(), Some(BodyProblem::Shape));
    }

    #[test]
    fn lone_surrogate_replaces_first_string() {
        let body = body(vec![title()], Envelope::LoneSurrogate);

        assert_eq!(body.render(false), "{\"title\":\"\\ud800\"}");
        assert_eq!(body.problem(), Some(BodyProblem::Syntax));
    }

    #[test]
    fn duplicate_key_repeats_first_field() {
        let body = body(vec![title()], Envelope::DuplicateKey);

        assert_eq!(
            body.render(false),
            "{\"title\":\"Intro\",\"title\":\"Intro\"}"
        );
        assert_eq!(body.problem(), Some(BodyProblem::Shape));
    }

    #[test]
    fn missing_field_leaves_out_required() {
        let body = body(vec![title()], Envelope::MissingField);

        assert_eq!(body.render(false), "{}");
        assert_eq!(body.problem(), Some(BodyProblem::Shape));
    }

    #[test]
    fn password_redacted_when_asked() {
        let body = Body {
            fields: vec![("password", Json::Str("hunter22".to_owned()))],
            envelope: Envelope::Valid,
            required: &[],
        };

        assert_eq!(
            body.render(true),
            "{\"password\":\"[redacted: 8 characters]\"}"
        );
    }

    #[test]
    fn content_type_problems_come_first() {
        let body = body(vec![wrong_type_duration()], Envelope::WrongContentType);

        assert_eq!(body.problem(), Some(BodyProblem::MediaType));
        assert_eq!(body.content_type(), Some("text/plain"));
    }

    #[test]
    fn query_encodes_values() {
        let page = PageQuery {
            limit: Some("a b".to_owned()),
            offset: None,
            unknown_parameter: true,
        };

        assert_eq!(page.query(None), "?limit=a%20b&page=2");
    }
}
