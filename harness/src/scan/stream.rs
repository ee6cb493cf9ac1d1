//! Streaming scans: bytes arrive in chunks of any size, and matches across chunk boundaries are
//! found once.
//!
//! The stream keeps a buffer. A scan reports the matches that start before the last
//! `max_match_len` bytes, then drops what it scanned except those last bytes and a little
//! look-behind. A match that starts in the kept tail is found by the next scan, which reads all
//! of it. Each detector resumes after its last reported match, so a match that ends inside the
//! tail is not reported a second time.

use std::collections::HashMap;

use super::excerpt::{CONTEXT_LEN, excerpt};
use super::{Detector, Finding, Location, Scanner};

/// Size of the reads [`Scanner::scan_reader`] makes.
pub(crate) const READ_BLOCK_LEN: usize = 64 * 1024;
/// Unscanned bytes collected before a scan runs. Larger blocks spread the cost of each search's
/// start over more bytes.
pub(crate) const SCAN_BLOCK_LEN: usize = 256 * 1024;
/// Bytes kept before the first unscanned byte: context for `\b` and for excerpts.
const LOOK_BEHIND_LEN: usize = CONTEXT_LEN + 24;

/// A scan in progress over one stream. Feed it chunks with [`StreamScan::feed`] and end it with
/// [`StreamScan::finish`].
pub struct StreamScan<'s> {
    scanner: &'s Scanner,
    source: String,
    buffer: Vec<u8>,
    /// Index in `buffer` of the first byte not yet scanned; the bytes before it are context.
    scan_from: usize,
    /// Stream offset of `buffer[0]`.
    offset: u64,
    /// Line number of `buffer[0]`, from 1.
    line: u64,
    /// Stream offset of the start of the line that contains `buffer[0]`.
    line_start: u64,
    /// Stream offset where each detector's last reported match ended.
    reported_end: HashMap<Detector, u64>,
    findings: Vec<Finding>,
}

impl<'s> StreamScan<'s> {
    pub(crate) fn new(scanner: &'s Scanner, source: String) -> Self {
        Self {
            scanner,
            source,
            buffer: Vec::new(),
            scan_from: 0,
            offset: 0,
            line: 1,
            line_start: 0,
            reported_end: HashMap::new(),
            findings: Vec::new(),
        }
    }

    /// Adds the next chunk of the stream. Chunks may split lines, UTF-8 characters and secrets
    /// anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        for piece in chunk.chunks(SCAN_BLOCK_LEN) {
            self.buffer.extend_from_slice(piece);
            if self.buffer.len() - self.scan_from >= self.scanner.max_match_len() + SCAN_BLOCK_LEN {
                self.scan(false);
            }
        }
    }

    /// Scans what is left and returns every finding of the stream, in stream order.
    pub fn finish(mut self) -> Vec<Finding> {
        self.scan(true);
        self.findings
    }

    /// Returns the findings so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    fn scan(&mut self, at_end: bool) {
        let overlap = self.scanner.max_match_len();
        let cutoff = if at_end {
            self.buffer.len()
        } else {
            self.buffer
                .len()
                .saturating_sub(overlap)
                .max(self.scan_from)
        };

        let offset = self.offset;
        let reported_end = &self.reported_end;
        let scanner = self.scanner;
        let start_of = |detector: Detector| {
            let key = scanner.resume_key(detector);
            reported_end
                .get(&key)
                .map_or(0, |end| end.saturating_sub(offset) as usize)
        };
        let hits = self
            .scanner
            .hits_from(&self.buffer, self.scan_from, start_of);

        for hit in hits {
            if hit.start >= cutoff {
                continue;
            }
            let key = self.scanner.resume_key(hit.detector);
            let start = self.offset + hit.start as u64;
            if self.reported_end.get(&key).is_some_and(|end| start < *end) {
                continue;
            }
            self.reported_end.insert(key, self.offset + hit.end as u64);

            let label = self.scanner.label(hit.detector);
            let finding = Finding {
                source: self.source.clone(),
                location: self.location(hit.start),
                label: label.to_owned(),
                exact: matches!(hit.detector, Detector::Canary(_)),
                excerpt: excerpt(self.scanner, &self.buffer, &hit),
            };
            self.findings.push(finding);
        }

        if at_end {
            return;
        }
        let drop = cutoff.saturating_sub(LOOK_BEHIND_LEN);
        self.advance(drop);
        self.buffer.drain(..drop);
        self.scan_from = cutoff - drop;
    }

    /// Moves the line bookkeeping past the first `len` bytes of the buffer.
    fn advance(&mut self, len: usize) {
        let dropped = &self.buffer[..len];
        if let Some(last) = memchr::memrchr(b'\n', dropped) {
            self.line += memchr::memchr_iter(b'\n', dropped).count() as u64;
            self.line_start = self.offset + last as u64 + 1;
        }
        self.offset += len as u64;
    }

    /// Line and column of buffer index `index`.
    fn location(&self, index: usize) -> Location {
        let before = &self.buffer[..index];
        let newlines = memchr::memchr_iter(b'\n', before).count() as u64;
        let column = match memchr::memrchr(b'\n', before) {
            Some(newline) => (index - newline) as u64,
            None => self.offset + index as u64 - self.line_start + 1,
        };
        Location::Line {
            line: self.line + newlines,
            column,
        }
    }
}
