//! The reference model: users, videos and localizations as the contract requires them after
//! each call, the audit log rows the calls must have written, and the outcome the last call
//! must have had. Applying a call never fails. A call that the app must reject records its
//! status and error code as the outcome and changes nothing.

use super::calls::{
    Body, BodyProblem, Call, Kind, LoginPassword, OwnerInput, PageQuery, Ref, SymbolicIds,
};
use super::inputs::{
    DISPLAY_NAME_MAX, DURATION_MAX, EMAIL_MAX, KINDS, LOCALIZATION_STATUSES, Number,
    PASSWORD_CHARS, TITLE_MAX, Tag, VIDEO_STATUSES,
};

/// Default page size of list requests.
const DEFAULT_LIMIT: i64 = 20;
/// Maximum page size of list requests.
const MAX_LIMIT: i64 = 100;

/// A user slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserModel {
    /// Whether the user exists (not deleted).
    pub alive: bool,
    /// Email as sent.
    pub email: String,
    /// Display name as sent.
    pub display_name: String,
    /// Current password.
    pub password: String,
}

/// A video slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoModel {
    /// Whether the video exists.
    pub alive: bool,
    /// Slot of the owner.
    pub owner: usize,
    /// Title as sent.
    pub title: String,
    /// Source language in its stored form.
    pub source_language: String,
    /// Duration in seconds.
    pub duration_seconds: i64,
    /// Status.
    pub status: String,
}

/// A localization slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalizationModel {
    /// Whether the localization exists.
    pub alive: bool,
    /// Slot of the video.
    pub video: usize,
    /// Target language in its stored form.
    pub target_language: String,
    /// Kind.
    pub kind: String,
    /// Status.
    pub status: String,
}

/// An audit log row the model expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditModel {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    /// Kind of the entity.
    pub kind: Kind,
    /// Slot of the entity.
    pub slot: usize,
}

/// Response that the last call must have returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// No call yet.
    #[default]
    Nothing,
    /// An error response in the contract's shape.
    Error {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: &'static str,
    },
    /// 201 with the resource of the slot, as the model now has it.
    Created(Kind, usize),
    /// 200 with the resource of the slot, unchanged.
    Found(Kind, usize),
    /// 200 with the resource of the slot after an update.
    Updated(Kind, usize),
    /// 204 without a body.
    Deleted,
    /// 200 with one page of a list.
    Page {
        /// Kind of the items.
        kind: Kind,
        /// Slots of the items, in order.
        slots: Vec<usize>,
        /// `limit` of the page.
        limit: i64,
        /// `offset` of the page.
        offset: i64,
        /// `total` of the list.
        total: i64,
    },
    /// 200 `{"user_id": id}` of the slot.
    LoggedIn(usize),
}

/// The model's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Users by slot.
    pub users: Vec<UserModel>,
    /// Videos by slot.
    pub videos: Vec<VideoModel>,
    /// Localizations by slot.
    pub localizations: Vec<LocalizationModel>,
    /// Audit rows in order.
    pub audit: Vec<AuditModel>,
    /// Outcome of the last call.
    pub outcome: Outcome,
}

fn error(status: u16, code: &'static str) -> Outcome {
    Outcome::Error { status, code }
}

fn validation_failed() -> Outcome {
    error(422, "validation_failed")
}

fn not_found() -> Outcome {
    error(404, "not_found")
}

fn conflict() -> Outcome {
    error(409, "conflict")
}

fn problem_outcome(problem: BodyProblem) -> Outcome {
    match problem {
        BodyProblem::MediaType => error(415, "unsupported_media_type"),
        BodyProblem::Syntax => error(400, "malformed_json"),
        BodyProblem::Shape => error(400, "invalid_request"),
    }
}

/// Checks the text rule of titles and display names: 1 to `max` characters and no NUL, which
/// Postgres text cannot store.
fn valid_text(value: &str, max: usize) -> bool {
    (1..=max).contains(&value.chars().count()) && !value.contains('\0')
}

/// Checks the app's email rule: at most 254 characters, no whitespace or control characters, a
/// non-empty part before and after the last `@`.
fn valid_email(value: &str) -> bool {
    if value.chars().count() > EMAIL_MAX
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    matches!(value.rsplit_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty())
}

/// Checks the table's CHECK constraint on emails, stricter than the app's rule: the first `@` must
/// come after the first character. A row that breaks it is 422 `validation_failed`, but only
/// when a row is written: an update of a missing user is 404 first.
fn database_accepts_email(value: &str) -> bool {
    !value.starts_with('@')
}

fn valid_password(value: &str) -> bool {
    let (min, max) = PASSWORD_CHARS;
    (min..=max).contains(&value.chars().count())
}

/// Key under which emails are unique: Postgres `lower()`, which equals ASCII lowercasing for
/// the generated emails (see `inputs::EMAIL_LOCALS`).
fn email_key(value: &str) -> String {
    value.to_ascii_lowercase()
}

fn valid_duration(value: &Number) -> Option<i64> {
    match value {
        Number::Int(seconds) if (0..=DURATION_MAX).contains(seconds) => Some(*seconds),
        _ => None,
    }
}

fn valid_enum(value: &Option<String>, allowed: &[&str]) -> bool {
    value
        .as_deref()
        .is_none_or(|value| allowed.contains(&value))
}

/// Parses `limit` and `offset` as the contract defines them; `None` is 422.
fn page_bounds(page: &PageQuery) -> Option<(i64, i64)> {
    let limit = match &page.limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))?,
    };
    let offset = match &page.offset {
        None => 0,
        Some(text) => text.parse::<i64>().ok().filter(|o| *o >= 0)?,
    };
    Some((limit, offset))
}

/// Builds one page of `slots`, which are in creation order.
///
/// NOTE: the app orders lists by (created_at, id). That equals creation order only while the
/// database clock does not step back between two creates.
fn page(kind: Kind, slots: Vec<usize>, limit: i64, offset: i64) -> Outcome {
    let total = slots.len() as i64;
    let slots = slots
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Outcome::Page {
        kind,
        slots,
        limit,
        offset,
        total,
    }
}

impl State {
    /// Applies `call` and records its outcome.
    pub fn apply(mut self, call: &Call) -> Self {
        let call = &self.normalize(call);
        let body = call.body(&self, &SymbolicIds);
        let outcome = match body.as_ref().and_then(Body::problem) {
            Some(problem) => problem_outcome(problem),
            None => self.apply_valid_body(call),
        };
        self.outcome = outcome;
        self
    }

    /// Returns the email and password a login for `user` sends: the user's (deleted or not),
    /// or ones no user has.
    pub fn login_credentials(&self, user: Ref) -> (String, String) {
        match user {
            Ref::Slot(slot) => {
                let user = &self.users[slot];
                (user.email.clone(), user.password.clone())
            }
            Ref::Missing(number) => (
                format!("nobody-{number}@example.test"),
                "no such password".to_owned(),
            ),
        }
    }

    /// Returns the number of slots of `kind`.
    pub fn slots(&self, kind: Kind) -> usize {
        match kind {
            Kind::User => self.users.len(),
            Kind::Video => self.videos.len(),
            Kind::Localization => self.localizations.len(),
        }
    }

    /// Returns whether `reference` names a resource of `kind` that exists.
    pub fn is_alive(&self, kind: Kind, reference: Ref) -> bool {
        let Ref::Slot(slot) = reference else {
            return false;
        };
        match kind {
            Kind::User => self.users.get(slot).is_some_and(|u| u.alive),
            Kind::Video => self.videos.get(slot).is_some_and(|v| v.alive),
            Kind::Localization => self.localizations.get(slot).is_some_and(|l| l.alive),
        }
    }

    /// Returns whether the state has a slot of every kind that `call` names a slot of.
    pub fn names_known_slots(&self, call: &Call) -> bool {
        let mut call = call.clone();
        call.references_mut()
            .into_iter()
            .all(|(kind, reference)| match reference {
                Ref::Slot(_) => self.slots(kind) > 0,
                Ref::Missing(_) => true,
            })
    }

    /// Returns `call` with each slot number taken modulo the number of slots of its kind.
    ///
    /// Generated calls name existing slots, so this changes nothing while generating. When
    /// shrinking deletes an earlier create, a later `user#1` would name no slot; taken modulo
    /// it names another user, so the shorter sequence stays meaningful and shrinking goes on.
    pub fn normalize(&self, call: &Call) -> Call {
        let mut call = call.clone();
        for (kind, reference) in call.references_mut() {
            let count = self.slots(kind);
            if let Ref::Slot(slot) = reference
                && count > 0
            {
                *slot %= count;
            }
        }
        call
    }

    /// Applies a call whose body (if any) passed Content-Type and JSON reading: the field
    /// rules, then the database's constraints and rows.
    fn apply_valid_body(&mut self, call: &Call) -> Outcome {
        match call {
            Call::CreateUser {
                email,
                display_name,
                password,
                ..
            } => {
                if !valid_email(email)
                    || !valid_text(display_name, DISPLAY_NAME_MAX)
                    || !valid_password(&password.0)
                {
                    return validation_failed();
                }
                if !database_accepts_email(email) {
                    return validation_failed();
                }
                if self.email_taken(email, None) {
                    return conflict();
                }
                self.users.push(UserModel {
                    alive: true,
                    email: email.clone(),
                    display_name: display_name.clone(),
                    password: password.0.clone(),
                });
                self.created(Kind::User, self.users.len() - 1)
            }
            Call::GetUser { user } => self.found(Kind::User, *user),
            Call::ListUsers { page: query } => {
                let Some((limit, offset)) = self.page_query(query) else {
                    return self.outcome_of_bad_query(query);
                };
                let slots = alive_slots(self.users.iter().map(|u| u.alive));
                page(Kind::User, slots, limit, offset)
            }
            Call::UpdateUser {
                user,
                email,
                display_name,
                password,
                ..
            } => {
                if email.is_none() && display_name.is_none() && password.is_none() {
                    return validation_failed();
                }
                let rules_hold = email.as_deref().is_none_or(valid_email)
                    && display_name
                        .as_deref()
                        .is_none_or(|name| valid_text(name, DISPLAY_NAME_MAX))
                    && password.as_ref().is_none_or(|p| valid_password(&p.0));
                if !rules_hold {
                    return validation_failed();
                }
                let Some(slot) = self.alive_slot(Kind::User, *user) else {
                    return not_found();
                };
                if email.as_deref().is_some_and(|e| !database_accepts_email(e)) {
                    return validation_failed();
                }
                if let Some(email) = email
                    && self.email_taken(email, Some(slot))
                {
                    return conflict();
                }
                let model = &mut self.users[slot];
                if let Some(email) = email {
                    model.email = email.clone();
                }
                if let Some(display_name) = display_name {
                    model.display_name = display_name.clone();
                }
                if let Some(password) = password {
                    model.password = password.0.clone();
                }
                self.updated(Kind::User, slot)
            }
            Call::DeleteUser { user } => {
                let Some(slot) = self.alive_slot(Kind::User, *user) else {
                    return not_found();
                };
                if self.videos.iter().any(|v| v.alive && v.owner == slot) {
                    return conflict();
                }
                self.users[slot].alive = false;
                self.deleted(Kind::User, slot)
            }
            Call::Login { user, password, .. } => {
                let (email, current) = self.login_credentials(*user);
                let sent = match password {
                    LoginPassword::Current => current,
                    LoginPassword::Wrong(wrong) => wrong.0.clone(),
                };
                // The app finds the user by email regardless of case, then verifies.
                let key = email_key(&email);
                let matching = self
                    .users
                    .iter()
                    .position(|u| u.alive && email_key(&u.email) == key);
                match matching {
                    Some(slot) if self.users[slot].password == sent => Outcome::LoggedIn(slot),
                    _ => error(401, "invalid_credentials"),
                }
            }
            Call::CreateVideo {
                owner,
                title,
                source_language,
                duration_seconds,
                status,
                ..
            } => {
                let OwnerInput::User(owner) = owner else {
                    return validation_failed();
                };
                let (Some(language), Some(duration)) =
                    (&source_language.stored, valid_duration(duration_seconds))
                else {
                    return validation_failed();
                };
                if !valid_text(title, TITLE_MAX) || !valid_enum(status, VIDEO_STATUSES) {
                    return validation_failed();
                }
                let Some(owner) = self.alive_slot(Kind::User, *owner) else {
                    return error(422, "invalid_reference");
                };
                self.videos.push(VideoModel {
                    alive: true,
                    owner,
                    title: title.clone(),
                    source_language: language.clone(),
                    duration_seconds: duration,
                    status: status.clone().unwrap_or_else(|| "draft".to_owned()),
                });
                self.created(Kind::Video, self.videos.len() - 1)
            }
            Call::GetVideo { video } => self.found(Kind::Video, *video),
            Call::ListVideos { owner, page: query } => {
                if query.unknown_parameter {
                    return error(400, "invalid_request");
                }
                let owner = match owner {
                    None => None,
                    Some(OwnerInput::NotUuid(_)) => return validation_failed(),
                    Some(OwnerInput::User(user)) => Some(*user),
                };
                let Some((limit, offset)) = self.page_query(query) else {
                    return validation_failed();
                };
                let slots = alive_slots(
                    self.videos
                        .iter()
                        .map(|v| v.alive && owner.is_none_or(|owner| owner == Ref::Slot(v.owner))),
                );
                page(Kind::Video, slots, limit, offset)
            }
            Call::UpdateVideo {
                video,
                title,
                source_language,
                duration_seconds,
                status,
                ..
            } => {
                if title.is_none()
                    && source_language.is_none()
                    && duration_seconds.is_none()
                    && status.is_none()
                {
                    return validation_failed();
                }
                let language_ok = source_language.as_ref().is_none_or(|t| t.stored.is_some());
                let duration_ok = duration_seconds
                    .as_ref()
                    .is_none_or(|d| valid_duration(d).is_some());
                let rules_hold = title.as_deref().is_none_or(|t| valid_text(t, TITLE_MAX))
                    && language_ok
                    && duration_ok
                    && valid_enum(status, VIDEO_STATUSES);
                if !rules_hold {
                    return validation_failed();
                }
                let Some(slot) = self.alive_slot(Kind::Video, *video) else {
                    return not_found();
                };
                let model = &mut self.videos[slot];
                if let Some(title) = title {
                    model.title = title.clone();
                }
                if let Some(Tag {
                    stored: Some(stored),
                    ..
                }) = source_language
                {
                    model.source_language = stored.clone();
                }
                if let Some(duration) = duration_seconds.as_ref().and_then(valid_duration) {
                    model.duration_seconds = duration;
                }
                if let Some(status) = status {
                    model.status = status.clone();
                }
                self.updated(Kind::Video, slot)
            }
            Call::DeleteVideo { video } => {
                let Some(slot) = self.alive_slot(Kind::Video, *video) else {
                    return not_found();
                };
                self.videos[slot].alive = false;
                // ON DELETE CASCADE: the localizations go too, with no audit rows of their own.
                for localization in &mut self.localizations {
                    if localization.video == slot {
                        localization.alive = false;
                    }
                }
                self.deleted(Kind::Video, slot)
            }
            Call::CreateLocalization {
                video,
                target_language,
                kind,
                status,
                ..
            } => {
                let Some(language) = &target_language.stored else {
                    return validation_failed();
                };
                if !KINDS.contains(&kind.as_str()) || !valid_enum(status, LOCALIZATION_STATUSES) {
                    return validation_failed();
                }
                let Some(video) = self.alive_slot(Kind::Video, *video) else {
                    return not_found();
                };
                if self.localization_taken(video, language, kind, None) {
                    return conflict();
                }
                self.localizations.push(LocalizationModel {
                    alive: true,
                    video,
                    target_language: language.clone(),
                    kind: kind.clone(),
                    status: status.clone().unwrap_or_else(|| "pending".to_owned()),
                });
                self.created(Kind::Localization, self.localizations.len() - 1)
            }
            Call::GetLocalization { localization } => self.found(Kind::Localization, *localization),
            Call::ListLocalizations { video, page: query } => {
                let Some((limit, offset)) = self.page_query(query) else {
                    return self.outcome_of_bad_query(query);
                };
                let Some(video) = self.alive_slot(Kind::Video, *video) else {
                    return not_found();
                };
                let slots = alive_slots(
                    self.localizations
                        .iter()
                        .map(|l| l.alive && l.video == video),
                );
                page(Kind::Localization, slots, limit, offset)
            }
            Call::UpdateLocalization {
                localization,
                target_language,
                kind,
                status,
                ..
            } => {
                if target_language.is_none() && kind.is_none() && status.is_none() {
                    return validation_failed();
                }
                let rules_hold = target_language.as_ref().is_none_or(|t| t.stored.is_some())
                    && kind.as_deref().is_none_or(|k| KINDS.contains(&k))
                    && valid_enum(status, LOCALIZATION_STATUSES);
                if !rules_hold {
                    return validation_failed();
                }
                let Some(slot) = self.alive_slot(Kind::Localization, *localization) else {
                    return not_found();
                };
                let current = &self.localizations[slot];
                let language = target_language
                    .as_ref()
                    .and_then(|t| t.stored.clone())
                    .unwrap_or_else(|| current.target_language.clone());
                let new_kind = kind.clone().unwrap_or_else(|| current.kind.clone());
                if self.localization_taken(current.video, &language, &new_kind, Some(slot)) {
                    return conflict();
                }
                let model = &mut self.localizations[slot];
                model.target_language = language;
                model.kind = new_kind;
                if let Some(status) = status {
                    model.status = status.clone();
                }
                self.updated(Kind::Localization, slot)
            }
            Call::DeleteLocalization { localization } => {
                let Some(slot) = self.alive_slot(Kind::Localization, *localization) else {
                    return not_found();
                };
                self.localizations[slot].alive = false;
                self.deleted(Kind::Localization, slot)
            }
        }
    }

    fn alive_slot(&self, kind: Kind, reference: Ref) -> Option<usize> {
        match reference {
            Ref::Slot(slot) if self.is_alive(kind, reference) => Some(slot),
            _ => None,
        }
    }

    fn found(&self, kind: Kind, reference: Ref) -> Outcome {
        match self.alive_slot(kind, reference) {
            Some(slot) => Outcome::Found(kind, slot),
            None => not_found(),
        }
    }

    fn created(&mut self, kind: Kind, slot: usize) -> Outcome {
        self.audit.push(AuditModel {
            action: "create",
            kind,
            slot,
        });
        Outcome::Created(kind, slot)
    }

    fn updated(&mut self, kind: Kind, slot: usize) -> Outcome {
        self.audit.push(AuditModel {
            action: "update",
            kind,
            slot,
        });
        Outcome::Updated(kind, slot)
    }

    fn deleted(&mut self, kind: Kind, slot: usize) -> Outcome {
        self.audit.push(AuditModel {
            action: "delete",
            kind,
            slot,
        });
        Outcome::Deleted
    }

    fn email_taken(&self, email: &str, except: Option<usize>) -> bool {
        let key = email_key(email);
        self.users
            .iter()
            .enumerate()
            .any(|(slot, u)| u.alive && Some(slot) != except && email_key(&u.email) == key)
    }

    fn localization_taken(
        &self,
        video: usize,
        language: &str,
        kind: &str,
        except: Option<usize>,
    ) -> bool {
        self.localizations.iter().enumerate().any(|(slot, l)| {
            l.alive
                && Some(slot) != except
                && l.video == video
                && l.target_language == language
                && l.kind == kind
        })
    }

    fn page_query(&self, query: &PageQuery) -> Option<(i64, i64)> {
        if query.unknown_parameter {
            return None;
        }
        page_bounds(query)
    }

    fn outcome_of_bad_query(&self, query: &PageQuery) -> Outcome {
        if query.unknown_parameter {
            error(400, "invalid_request")
        } else {
            validation_failed()
        }
    }
}

fn alive_slots(alive: impl Iterator<Item = bool>) -> Vec<usize> {
    alive
        .enumerate()
        .filter_map(|(slot, alive)| alive.then_some(slot))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crud_properties::calls::{Envelope, Password};
    use crate::crud_properties::inputs::Literal;

    fn create_user(email: &str) -> Call {
        Call::CreateUser {
            email: email.to_owned(),
            display_name: "Ann".to_owned(),
            password: Password("correct horse".to_owned()),
            envelope: Envelope::Valid,
        }
    }

    fn create_video(owner: Ref, duration: Number) -> Call {
        Call::CreateVideo {
            owner: OwnerInput::User(owner),
            title: "Intro".to_owned(),
            source_language: Tag {
                sent: "en-us".to_owned(),
                stored: Some("en-US".to_owned()),
            },
            duration_seconds: duration,
            status: None,
            envelope: Envelope::Valid,
        }
    }

    #[test]
    fn duplicate_email_in_other_case_conflicts() {
        let state = State::default().apply(&create_user("ann@example.test"));

        let state = state.apply(&create_user("ANN@example.test"));

        assert_eq!(state.outcome, conflict());
        assert_eq!(state.users.len(), 1);
        assert_eq!(state.audit.len(), 1);
    }

    #[test]
    fn email_starting_with_at_is_rejected() {
        let state = State::default().apply(&create_user("@a@b"));

        assert_eq!(state.outcome, validation_failed());
    }

    #[test]
    fn normalize_wraps_slot_numbers() {
        let state = State::default().apply(&create_user("ann@example.test"));

        let call = state.normalize(&Call::GetUser { user: Ref::Slot(3) });

        assert_eq!(call, Call::GetUser { user: Ref::Slot(0) });
        assert_eq!(state.apply(&call).outcome, Outcome::Found(Kind::User, 0));
    }

    #[test]
    fn slot_needs_one_resource_of_its_kind() {
        let call = Call::GetVideo {
            video: Ref::Slot(0),
        };

        assert!(!State::default().names_known_slots(&call));
        assert!(State::default().names_known_slots(&Call::GetVideo {
            video: Ref::Missing(1)
        }));
    }

    #[test]
    fn email_check_applies_only_to_written_rows() {
        let state = State::default().apply(&Call::UpdateUser {
            user: Ref::Missing(1),
            email: Some("@a@b".to_owned()),
            display_name: None,
            password: None,
            envelope: Envelope::Valid,
        });

        assert_eq!(state.outcome, not_found());
    }

    #[test]
    fn video_of_missing_owner_is_invalid_reference() {
        let state = State::default().apply(&create_video(Ref::Missing(7), Number::Int(90)));

        assert_eq!(state.outcome, error(422, "invalid_reference"));
    }

    #[test]
    fn fractional_duration_is_shape_error_before_owner() {
        let duration = Number::Literal("90.5", Literal::WrongType);

        let state = State::default().apply(&create_video(Ref::Missing(7), duration));

        assert_eq!(state.outcome, error(400, "invalid_request"));
    }

    #[test]
    fn delete_user_with_video_conflicts() {
        let state = State::default()
            .apply(&create_user("ann@example.test"))
            .apply(&create_video(Ref::Slot(0), Number::Int(90)));

        let state = state.apply(&Call::DeleteUser { user: Ref::Slot(0) });

        assert_eq!(state.outcome, conflict());
        assert!(state.users[0].alive);
    }

    #[test]
    fn video_delete_cascades_without_audit_rows() {
        let state = State::default()
            .apply(&create_user("ann@example.test"))
            .apply(&create_video(Ref::Slot(0), Number::Int(90)))
            .apply(&Call::CreateLocalization {
                video: Ref::Slot(0),
                target_language: Tag {
                    sent: "de".to_owned(),
                    stored: Some("de".to_owned()),
                },
                kind: "subtitles".to_owned(),
                status: None,
                envelope: Envelope::Valid,
            });

        let state = state.apply(&Call::DeleteVideo {
            video: Ref::Slot(0),
        });

        assert_eq!(state.outcome, Outcome::Deleted);
        assert!(!state.localizations[0].alive);
        assert_eq!(state.audit.len(), 4, "three creates and one delete");
    }

    #[test]
    fn page_skips_offset_and_counts_total() {
        let state = State::default()
            .apply(&create_user("a@example.test"))
            .apply(&create_user("b@example.test"))
            .apply(&create_user("c@example.test"));

        let state = state.apply(&Call::ListUsers {
            page: PageQuery {
                limit: Some("1".to_owned()),
                offset: Some("1".to_owned()),
                unknown_parameter: false,
            },
        });

        assert_eq!(
            state.outcome,
            Outcome::Page {
                kind: Kind::User,
                slots: vec![1],
                limit: 1,
                offset: 1,
                total: 3
            }
        );
    }

    #[test]
    fn login_matches_email_regardless_of_case() {
        let state = State::default().apply(&create_user("Ann@Example.test"));

        let state = state.apply(&Call::Login {
            user: Ref::Slot(0),
            email_case: crate::crud_properties::inputs::Case::Upper,
            password: LoginPassword::Current,
            envelope: Envelope::Valid,
        });

        assert_eq!(state.outcome, Outcome::LoggedIn(0));
    }

    #[test]
    fn empty_patch_is_validation_failed() {
        let state = State::default().apply(&Call::UpdateVideo {
            video: Ref::Missing(1),
            title: None,
            source_language: None,
            duration_seconds: None,
            status: None,
            envelope: Envelope::Valid,
        });

        assert_eq!(state.outcome, validation_failed());
    }
}
