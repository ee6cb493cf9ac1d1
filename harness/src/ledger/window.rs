//! The window of unavailability: from the first write that was not acknowledged to the last.

use std::time::Duration;

use serde::Serialize;

use super::attempt::Attempt;

/// The span in which writes were not acknowledged, from the ledger's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct UnavailabilityWindow {
    /// Send time of the first write that was not acknowledged.
    pub first_sent: Duration,
    /// Arrival time of the last such write's response or error.
    pub last_finished: Duration,
    /// Writes not acknowledged in the window (failed and indeterminate).
    pub count: usize,
}

impl UnavailabilityWindow {
    /// Computes the window of `attempts`, or `None` when every write was acknowledged.
    pub fn of(attempts: &[Attempt]) -> Option<Self> {
        let unavailable = attempts.iter().filter(|attempt| attempt.is_unavailable());
        let mut window: Option<Self> = None;
        for attempt in unavailable {
            let current = window.get_or_insert(Self {
                first_sent: attempt.sent,
                last_finished: attempt.finished,
                count: 0,
            });
            current.first_sent = current.first_sent.min(attempt.sent);
            current.last_finished = current.last_finished.max(attempt.finished);
            current.count += 1;
        }
        window
    }

    /// Length of the window.
    pub fn duration(&self) -> Duration {
        self.last_finished.saturating_sub(self.first_sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::attempt::Outcome;

    fn attempt(outcome: Outcome, sent_ms: u64, finished_ms: u64) -> Attempt {
        Attempt {
            key: format!("{sent_ms}"),
            outcome,
            sent: Duration::from_millis(sent_ms),
            finished: Duration::from_millis(finished_ms),
            status: None,
            resource_id: None,
            detail: None,
        }
    }

    #[test]
    fn window_absent_when_all_acknowledged() {
        let attempts = [
            attempt(Outcome::Acknowledged, 0, 5),
            attempt(Outcome::Acknowledged, 10, 15),
        ];

        assert_eq!(UnavailabilityWindow::of(&attempts), None);
    }

    #[test]
    fn window_spans_failed_and_indeterminate() {
        let attempts = [
            attempt(Outcome::Acknowledged, 0, 5),
            attempt(Outcome::Indeterminate, 100, 3100),
            attempt(Outcome::Failed, 200, 210),
            attempt(Outcome::Acknowledged, 300, 305),
            attempt(Outcome::Failed, 400, 450),
        ];

        let window = UnavailabilityWindow::of(&attempts).expect("window should exist");

        assert_eq!(window.first_sent, Duration::from_millis(100));
        assert_eq!(window.last_finished, Duration::from_millis(3100));
        assert_eq!(window.count, 3);
        assert_eq!(window.duration(), Duration::from_millis(3000));
    }
}
