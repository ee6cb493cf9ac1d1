//! The state of the progress line, updated event by event.

/// A change the progress line reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A step outside the checks began, such as `building the app image`.
    Phase(String),
    /// A check started.
    CheckStarted(String),
    /// A check ended, with whether it failed (status fail or error).
    CheckFinished {
        /// Check name.
        check: String,
        /// Whether its status is fail or error.
        failed: bool,
    },
    /// A check reported how many of its cases have started.
    Cases {
        /// Cases started so far, the current one included.
        done: u32,
        /// Cases planned.
        total: u32,
    },
}

/// State of the progress line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgressState {
    /// Current step outside the checks, until a check starts.
    pub phase: Option<String>,
    /// Check shown: the one that started last among those running now.
    pub check: Option<String>,
    /// Checks running now, oldest first. `harness validate` runs several at once, one per lane.
    pub running: Vec<String>,
    /// Cases of the running check, when it reports them: (started, planned).
    pub cases: Option<(u32, u32)>,
    /// Checks that have ended.
    pub checks_done: usize,
    /// Checks that have ended with status fail or error.
    pub checks_failed: usize,
}

impl ProgressState {
    /// Applies `event`.
    pub fn apply(&mut self, event: ProgressEvent) {
        match event {
            ProgressEvent::Phase(phase) => self.phase = Some(phase),
            ProgressEvent::CheckStarted(check) => {
                self.phase = None;
                self.running.push(check.clone());
                self.check = Some(check);
                self.cases = None;
            }
            ProgressEvent::CheckFinished { check, failed } => {
                self.phase = None;
                self.checks_done += 1;
                if failed {
                    self.checks_failed += 1;
                }
                if let Some(position) = self.running.iter().position(|name| *name == check) {
                    self.running.remove(position);
                }
                // The cases belong to the check shown, so another running check is shown
                // without them until it reports its own.
                if self.check.as_deref() == Some(check.as_str()) {
                    self.check = self.running.last().cloned();
                    self.cases = None;
                }
            }
            ProgressEvent::Cases { done, total } => self.cases = Some((done, total)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_start_clears_phase() {
        let mut state = ProgressState::default();
        state.apply(ProgressEvent::Phase("building the app image".to_owned()));

        state.apply(ProgressEvent::CheckStarted("crud.smoke".to_owned()));

        assert_eq!(state.phase, None);
        assert_eq!(state.check.as_deref(), Some("crud.smoke"));
    }

    #[test]
    fn failed_check_is_counted() {
        let mut state = ProgressState::default();
        state.apply(ProgressEvent::CheckStarted("crud.smoke".to_owned()));

        state.apply(ProgressEvent::CheckFinished {
            check: "crud.smoke".to_owned(),
            failed: true,
        });

        assert_eq!(state.checks_done, 1);
        assert_eq!(state.checks_failed, 1);
        assert_eq!(state.check, None);
    }

    #[test]
    fn cases_reset_at_next_check() {
        let mut state = ProgressState::default();
        state.apply(ProgressEvent::CheckStarted("crud.properties".to_owned()));
        state.apply(ProgressEvent::Cases { done: 3, total: 64 });

        state.apply(ProgressEvent::CheckStarted("errors.sanitized".to_owned()));

        assert_eq!(state.cases, None);
    }

    #[test]
    fn concurrent_check_shown_after_end() {
        let mut state = ProgressState::default();
        state.apply(ProgressEvent::CheckStarted("chaos.pause".to_owned()));
        state.apply(ProgressEvent::CheckStarted("crud.smoke".to_owned()));

        state.apply(ProgressEvent::CheckFinished {
            check: "crud.smoke".to_owned(),
            failed: false,
        });

        assert_eq!(state.check.as_deref(), Some("chaos.pause"));
        assert_eq!(state.running, ["chaos.pause"]);
        assert_eq!(state.checks_done, 1);
    }

    #[test]
    fn nested_check_end_keeps_outer_check() {
        // The end of a check other than the one shown (logged from inside it) keeps it shown.
        let mut state = ProgressState::default();
        state.apply(ProgressEvent::CheckStarted("chaos.pause".to_owned()));

        state.apply(ProgressEvent::CheckFinished {
            check: "other".to_owned(),
            failed: false,
        });

        assert_eq!(state.check.as_deref(), Some("chaos.pause"));
    }
}
