//! Deadlines of the rotation drills. `harness validate` and the passing tests use the defaults.
//! A self-test whose fault keeps the app from ever recovering passes shorter ones, so that it
//! does not wait out the full deadline.

use std::time::Duration;

/// Default of [`Deadlines::ready`]. A restart with the right credentials is ready within a few
/// seconds, and one with wrong credentials never is.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`Deadlines::expiry`]. The drill sets VALID UNTIL 2 s ahead, so a role that can
/// still log in after this has not expired.
pub const EXPIRY_TIMEOUT: Duration = Duration::from_secs(15);

/// Deadlines a rotation drill waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// Deadline for `/readyz` to return 200 after a restart or a heal, and for the app to
    /// report a rejected login (a 503 from `/readyz`, then a log line).
    pub ready: Duration,
    /// Deadline for a role's VALID UNTIL to pass (`rotation.expiry` only). It must exceed the
    /// 2 s between setting VALID UNTIL and its passing, or the drill finds a role that has
    /// not expired yet.
    pub expiry: Duration,
}

impl Deadlines {
    /// The deadlines `harness validate` uses, as a constant so that a test can override one
    /// field with `..Deadlines::DEFAULT`.
    pub const DEFAULT: Self = Self {
        ready: READY_TIMEOUT,
        expiry: EXPIRY_TIMEOUT,
    };
}

impl Default for Deadlines {
    fn default() -> Self {
        Self::DEFAULT
    }
}
