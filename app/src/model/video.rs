//! Videos.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::text_enum;

text_enum! {
    /// Processing state of a video.
    pub enum VideoStatus {
        Draft => "draft",
        Processing => "processing",
        Ready => "ready",
        Failed => "failed",
    }
}

/// A video as returned by the API.
#[derive(Debug, Clone, Serialize)]
pub struct Video {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    /// BCP-47 tag in the case RFC 5646 recommends.
    pub source_language: String,
    pub duration_seconds: i32,
    pub status: VideoStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated video to insert.
#[derive(Debug)]
pub struct NewVideo {
    pub owner_id: Uuid,
    pub title: String,
    pub source_language: String,
    pub duration_seconds: i32,
    pub status: VideoStatus,
}

/// Validated changes to a video; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct VideoChanges {
    pub title: Option<String>,
    pub source_language: Option<String>,
    pub duration_seconds: Option<i32>,
    pub status: Option<VideoStatus>,
}
