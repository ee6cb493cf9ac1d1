//! The progress line on stderr: drawn on every update and on a timer (for the spinner and the
//! elapsed time), cleared before each log line and redrawn after it.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::render::render_line;
use super::state::{ProgressEvent, ProgressState};

/// Interval of the timer redraw.
const REDRAW_INTERVAL: Duration = Duration::from_millis(250);

/// Width used when stderr reports none.
const DEFAULT_WIDTH: usize = 80;

/// ANSI: carriage return, then erase the whole line.
const CLEAR_LINE: &str = "\r\x1b[2K";

struct Display {
    state: ProgressState,
    started: Instant,
    frame: usize,
    /// Number of live [`Suspended`] guards. The line is not drawn while it is above 0.
    suspended: usize,
}

/// A guard that keeps the progress line hidden while a child process writes to the inherited
/// stderr (cargo draws its own progress bar there). Dropping it shows the line again.
#[must_use = "the line is shown again when the guard is dropped"]
pub struct Suspended(());

impl Drop for Suspended {
    fn drop(&mut self) {
        let mut display = lock();
        if let Some(display) = display.as_mut() {
            display.suspended = display.suspended.saturating_sub(1);
            draw(display);
        }
    }
}

/// Clears the progress line and stops drawing it until the returned guard is dropped. Does
/// nothing visible when no display is active.
pub fn suspend() -> Suspended {
    let mut display = lock();
    if let Some(display) = display.as_mut() {
        display.suspended += 1;
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(CLEAR_LINE.as_bytes());
        let _ = stderr.flush();
    }
    Suspended(())
}

/// The live display, or `None` when none is shown. One lock orders every write to stderr that
/// passes through this module, so a log line never lands inside the progress line.
static DISPLAY: Mutex<Option<Display>> = Mutex::new(None);

/// Starts the live display and its redraw thread. Call it only when stderr is a terminal.
pub fn start() {
    let mut display = lock();
    if display.is_some() {
        return;
    }
    *display = Some(Display {
        state: ProgressState::default(),
        started: Instant::now(),
        frame: 0,
        suspended: 0,
    });
    drop(display);

    let spawned = std::thread::Builder::new()
        .name("progress".to_owned())
        .spawn(|| {
            loop {
                std::thread::sleep(REDRAW_INTERVAL);
                let mut display = lock();
                let Some(display) = display.as_mut() else {
                    break;
                };
                display.frame += 1;
                draw(display);
            }
        });
    if let Err(error) = spawned {
        // The line still changes on every update, but the spinner and the elapsed time do not.
        tracing::debug!(%error, "starting the progress redraw thread failed");
    }
}

/// Applies `event` and redraws the line, when the display is active.
pub fn update(event: ProgressEvent) {
    let mut display = lock();
    if let Some(display) = display.as_mut() {
        display.state.apply(event);
        draw(display);
    }
}

/// Writes `text` (a complete log line, already redacted) to stderr. With an active display it
/// clears the progress line first and redraws it below the text.
pub fn write_above(text: &[u8]) {
    let mut display = lock();
    let mut stderr = std::io::stderr().lock();
    match display.as_mut() {
        Some(display) => {
            let _ = stderr.write_all(CLEAR_LINE.as_bytes());
            let _ = stderr.write_all(text);
            drop(stderr);
            draw(display);
        }
        None => {
            let _ = stderr.write_all(text);
        }
    }
}

/// Clears the progress line and ends the display, so that what follows (the results table)
/// starts on a clean line. Does nothing when no display is active.
pub fn finish() {
    let mut display = lock();
    if display.take().is_some() {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(CLEAR_LINE.as_bytes());
        let _ = stderr.flush();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Display>> {
    DISPLAY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn draw(display: &Display) {
    if display.suspended > 0 {
        return;
    }
    let line = render_line(
        &display.state,
        display.frame,
        display.started.elapsed().as_secs(),
        // One column less, because a line that fills the last column wraps on some terminals.
        terminal_width().saturating_sub(1),
    );
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{CLEAR_LINE}{line}");
    let _ = stderr.flush();
}

/// Returns the width of the terminal on stderr, or [`DEFAULT_WIDTH`].
fn terminal_width() -> usize {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` to the pointer, which is valid for the call.
    let result = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
    if result == 0 && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        DEFAULT_WIDTH
    }
}
