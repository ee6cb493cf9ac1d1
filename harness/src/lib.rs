//! The harness library: starts Postgres and the LocalizeVideos app in containers,
//! and gives checks what they need to verify the data layer's rules.

pub mod check;
pub mod deployment;
pub mod secret;
