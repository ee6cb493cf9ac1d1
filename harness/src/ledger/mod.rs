//! The acknowledged-write ledger, a set checker in the manner of Jepsen's. Every write gets a
//! unique value and is recorded as acknowledged, failed or indeterminate. After the fault heals,
//! the values are read back through the API and directly from the database, and compared.
//!
//! A check starts a [`Load`](crate::load::Load), which records into a [`Ledger`], injects its
//! fault, stops the load, and calls [`Verification::read_back`]. Any lost, unexpected,
//! duplicated or failed-but-present value fails the check.

mod attempt;
mod comparison;
mod read_back;
mod verification;
mod window;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub use attempt::{Attempt, Outcome};
pub use comparison::{Comparison, Source, compare};
pub use read_back::{ReadBackError, read_api, read_database};
pub use verification::Verification;
pub use window::UnavailabilityWindow;

/// The attempted writes of one load, shared by every clone. Times are offsets from the
/// ledger's start, so a report can place faults and writes on one time line.
#[derive(Clone, Debug)]
pub struct Ledger {
    attempts: Arc<Mutex<Vec<Attempt>>>,
    started: Instant,
    started_at: DateTime<Utc>,
}

impl Ledger {
    /// Creates an empty ledger that starts now.
    pub fn new() -> Self {
        Self {
            attempts: Arc::default(),
            started: Instant::now(),
            started_at: Utc::now(),
        }
    }

    /// Wall-clock time of the start, for reports.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Converts an offset from the start to wall-clock time.
    pub fn wall_clock(&self, offset: Duration) -> DateTime<Utc> {
        self.started_at + chrono::Duration::from_std(offset).unwrap_or(chrono::Duration::MAX)
    }

    /// Appends an attempt.
    pub fn record(&self, attempt: Attempt) {
        self.lock().push(attempt);
    }

    /// Returns the attempts recorded so far, in the order they finished.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Attempt>> {
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}
