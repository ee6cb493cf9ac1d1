//! Rendering of the progress line, separate from the terminal so that tests can read it.

use super::state::ProgressState;

/// Spinner frames, one per redraw.
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Renders the progress line for `state`, such as
/// `/ [01:12] crud.properties: case 12/64 | 3 checks done, 1 failed`, cut to `width` characters.
/// `frame` picks the spinner frame and `elapsed_secs` is the time since the run began.
pub fn render_line(state: &ProgressState, frame: usize, elapsed_secs: u64, width: usize) -> String {
    let spinner = SPINNER[frame % SPINNER.len()];
    let mut line = format!(
        "{spinner} [{:02}:{:02}] ",
        elapsed_secs / 60,
        elapsed_secs % 60
    );

    match (&state.check, &state.phase) {
        (Some(check), _) => {
            line.push_str(check);
            if let Some((done, total)) = state.cases {
                line.push_str(&format!(": case {done}/{total}"));
            }
        }
        (None, Some(phase)) => line.push_str(phase),
        (None, None) if state.checks_done > 0 => line.push_str("preparing the next check"),
        (None, None) => line.push_str("starting"),
    }

    if state.checks_done > 0 {
        let noun = if state.checks_done == 1 {
            "check"
        } else {
            "checks"
        };
        line.push_str(&format!(" | {} {noun} done", state.checks_done));
        if state.checks_failed > 0 {
            line.push_str(&format!(", {} failed", state.checks_failed));
        }
    }
    truncate(line, width)
}

/// Cuts `line` to `width` characters, ending in `…` when cut, so that it never wraps (a
/// wrapped line cannot be cleared with one carriage return).
fn truncate(line: String, width: usize) -> String {
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::ProgressEvent;

    fn state(events: Vec<ProgressEvent>) -> ProgressState {
        let mut state = ProgressState::default();
        for event in events {
            state.apply(event);
        }
        state
    }

    #[test]
    fn phase_shown_before_checks() {
        let state = state(vec![ProgressEvent::Phase(
            "building the app image".to_owned(),
        )]);

        assert_eq!(
            render_line(&state, 0, 5, 80),
            "| [00:05] building the app image"
        );
    }

    #[test]
    fn check_shows_cases() {
        let state = state(vec![
            ProgressEvent::CheckStarted("crud.properties".to_owned()),
            ProgressEvent::Cases {
                done: 12,
                total: 64,
            },
        ]);

        assert_eq!(
            render_line(&state, 1, 72, 80),
            "/ [01:12] crud.properties: case 12/64"
        );
    }

    #[test]
    fn finished_checks_are_counted() {
        let state = state(vec![
            ProgressEvent::CheckStarted("crud.smoke".to_owned()),
            ProgressEvent::CheckFinished {
                check: "crud.smoke".to_owned(),
                failed: true,
            },
            ProgressEvent::CheckStarted("leaks.credentials".to_owned()),
        ]);

        assert_eq!(
            render_line(&state, 2, 0, 80),
            "- [00:00] leaks.credentials | 1 check done, 1 failed"
        );
    }

    #[test]
    fn long_line_is_cut_to_width() {
        let state = state(vec![ProgressEvent::Phase("x".repeat(100))]);

        let line = render_line(&state, 3, 0, 20);

        assert_eq!(line.chars().count(), 20);
        assert!(line.ends_with('…'), "{line}");
    }
}
