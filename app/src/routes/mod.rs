//! HTTP handlers, one file per resource.

pub mod health;
pub mod localizations;
pub mod login;
pub mod users;
pub mod videos;
