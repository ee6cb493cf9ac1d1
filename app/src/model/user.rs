//! Users.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A user as returned by the API. It has no password field of any kind.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: Uuid,
    /// Stored as sent; unique regardless of case.
    pub email: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated user to insert. No `Debug`: it contains the password hash.
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// Validated changes to a user; `None` leaves a field as it is. No `Debug`:
/// it may contain the password hash.
pub struct UserChanges {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
}
