//! Localizations: subtitle or dubbing tracks of a video in a target language.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::text_enum;

text_enum! {
    /// Kind of track that the localization produces.
    pub enum LocalizationKind {
        Subtitles => "subtitles",
        Dubbing => "dubbing",
    }
}

text_enum! {
    /// Progress of a localization.
    pub enum LocalizationStatus {
        Pending => "pending",
        InProgress => "in_progress",
        Done => "done",
        Failed => "failed",
    }
}

/// A localization as returned by the API.
#[derive(Debug, Clone, Serialize)]
pub struct Localization {
    pub id: Uuid,
    pub video_id: Uuid,
    /// BCP-47 tag in the case RFC 5646 recommends.
    pub target_language: String,
    pub kind: LocalizationKind,
    pub status: LocalizationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated localization to insert.
#[derive(Debug)]
pub struct NewLocalization {
    pub video_id: Uuid,
    pub target_language: String,
    pub kind: LocalizationKind,
    pub status: LocalizationStatus,
}

/// Validated changes to a localization; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct LocalizationChanges {
    pub target_language: Option<String>,
    pub kind: Option<LocalizationKind>,
    pub status: Option<LocalizationStatus>,
}
