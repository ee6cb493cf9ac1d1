//! Redacted excerpts: the text around a match on its line, with every match replaced by its
//! label and the rest passed through [`crate::redact`].

use super::{Detector, Hit, Scanner};
use crate::redact::redact;

/// Start of the text that replaces a match in an excerpt, followed by the label and `]`, such
/// as `[redacted: password key-value pair]`. The formats treat a value that starts with it as a
/// placeholder, and so does [`crate::redact`], so that a report that quotes a finding is not
/// itself a finding when it is scanned again.
pub const MASK_PREFIX: &str = "[redacted: ";

/// Bytes of context shown on each side of a match.
pub(crate) const CONTEXT_LEN: usize = 40;

/// Bytes that end a token. A token cut by the edge of the excerpt window is dropped, because it
/// could be the visible part of a secret that continues outside the window.
fn is_separator(byte: u8) -> bool {
    byte.is_ascii_whitespace() || b"\"',;:=&{}[]()<>/@`".contains(&byte)
}

enum Piece<'a> {
    Text(&'a [u8]),
    Mask(&'a str),
    /// Text after a value whose end the format can only guess, such as a password with a
    /// space in it: shown as `…`.
    Hidden,
}

/// Builds the excerpt for `hit`, a match in `haystack`.
pub(crate) fn excerpt(scanner: &Scanner, haystack: &[u8], hit: &Hit) -> String {
    let (start, end) = (hit.start, hit.end);
    let line_start = haystack[..start]
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let line_end = haystack[end..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(haystack.len(), |newline| end + newline);
    let window_start = start.saturating_sub(CONTEXT_LEN).max(line_start);
    let window_end = (end + CONTEXT_LEN).min(line_end);

    // Matches that cross the window's edges are masked too, so the search covers one maximum
    // match length beyond each edge.
    let search_start = window_start
        .saturating_sub(scanner.max_match_len())
        .max(line_start);
    let search_end = (window_end + scanner.max_match_len()).min(line_end);
    // The finding's own mask comes first, so that its label wins over another detector's
    // label on the same range.
    let mut masks: Vec<(usize, usize, Detector)> = vec![(hit.secret.0, hit.secret.1, hit.detector)];
    for other in scanner.hits(&haystack[search_start..search_end], 0) {
        let (mask_start, mask_end) = (search_start + other.secret.0, search_start + other.secret.1);
        if mask_end > window_start && mask_start < window_end {
            masks.push((mask_start, mask_end, other.detector));
        }
    }
    masks.sort_by_key(|(mask_start, mask_end, _)| (*mask_start, std::cmp::Reverse(*mask_end)));

    let mut pieces = Vec::new();
    let mut at = window_start;
    let mut hide_text = false;
    for (mask_start, mask_end, detector) in masks {
        if mask_end <= at {
            continue;
        }
        if mask_start > at {
            pieces.push(text_piece(hide_text, &haystack[at..mask_start]));
        }
        pieces.push(Piece::Mask(scanner.label(detector)));
        hide_text = scanner.guesses_secret_end(detector);
        at = mask_end;
    }
    let window_end = window_end.max(at);
    if at < window_end {
        pieces.push(text_piece(hide_text, &haystack[at..window_end]));
    }

    let cut_left = window_start > line_start;
    let cut_right = window_end < line_end;
    if cut_left && let Some(Piece::Text(text)) = pieces.first_mut() {
        *text = match text.iter().position(|&byte| is_separator(byte)) {
            Some(separator) => &text[separator..],
            None => &[],
        };
    }
    if cut_right && let Some(Piece::Text(text)) = pieces.last_mut() {
        *text = match text.iter().rposition(|&byte| is_separator(byte)) {
            Some(separator) => &text[..=separator],
            None => &[],
        };
    }

    let mut rendered = String::new();
    if cut_left {
        rendered.push('…');
    }
    for piece in pieces {
        match piece {
            Piece::Text(text) => push_escaped(&mut rendered, &String::from_utf8_lossy(text)),
            Piece::Mask(label) => {
                rendered.push_str(MASK_PREFIX);
                rendered.push_str(label);
                rendered.push(']');
            }
            Piece::Hidden => rendered.push('…'),
        }
    }
    if cut_right && !rendered.ends_with('…') {
        rendered.push('…');
    }
    redact(&rendered)
}

fn text_piece(hidden: bool, bytes: &[u8]) -> Piece<'_> {
    if hidden {
        Piece::Hidden
    } else {
        Piece::Text(bytes)
    }
}

/// Appends `text` with control characters escaped, so an excerpt stays on one line.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}
