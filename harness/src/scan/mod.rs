//! The secret scanner: finds exact canary values (with aho-corasick) and secret formats such as
//! password hashes and connection strings with a password (with a regex set) in text, byte
//! streams and JSON documents.
//!
//! A [`Finding`] names where the match is (a log line and column, a JSON field path) and shows a
//! redacted excerpt around it. The matched value itself never appears in a finding: it is
//! replaced by its label, such as `[redacted: password of role lv_app]`.
//!
//! Streams are scanned in blocks. Each block keeps the last bytes of the previous one, as many as
//! the longest possible match, so a secret split across two reads is still found, and found once.

mod canary;
mod canary_group;
mod excerpt;
mod finding;
mod format;
mod json;
mod prefilter;
mod stream;

use std::io::Read;

use canary_group::CanaryGroup;
use prefilter::LiteralPrefilter;

pub use canary::{Canary, MIN_CANARY_LEN};
pub use finding::{Finding, Location};
pub use format::{Format, credential_formats, password_hash_formats};
pub use stream::StreamScan;

/// Failure to build a scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A canary is too short to be matched without false positives.
    #[error(
        "canary `{label}` is {len} bytes long; canaries must have at least {MIN_CANARY_LEN} \
         bytes, so that ordinary words do not match"
    )]
    CanaryTooShort {
        /// Label of the canary.
        label: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The canary automaton could not be built.
    #[error("building the canary automaton failed: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
    /// A format's regular expression is invalid or unbounded.
    #[error("format `{name}` has an invalid pattern: {reason}")]
    Format {
        /// Name of the format.
        name: &'static str,
        /// Description of the problem.
        reason: String,
    },
}

/// Source of a match: one of the scanner's canaries or one of its formats (by index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Detector {
    Canary(usize),
    Format(usize),
}

/// One match in a haystack: byte range, detector, and the range that contains the secret (the
/// whole match unless the format marks a part of it), which excerpts replace with the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub secret: (usize, usize),
    pub detector: Detector,
}

/// A compiled set of canaries and formats.
pub struct Scanner {
    canaries: Vec<Canary>,
    /// The canaries' automata, split so that each keeps a prefilter.
    canary_groups: Vec<CanaryGroup>,
    /// Index in `canary_groups` of each canary's group.
    group_of: Vec<usize>,
    formats: Vec<Format>,
    /// The literal prefixes of the formats' anchors: a fast first pass whose every match names
    /// the formats to try at its position.
    prefilter: Option<LiteralPrefilter>,
    /// The anchors of the formats without literal prefixes, as one regex set (a multi-pattern
    /// regex), and the index of each pattern's format.
    anchors: Option<(regex_automata::meta::Regex, Vec<usize>)>,
    /// Maximum match length of any canary or format, in bytes.
    max_match_len: usize,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let canaries: Vec<&str> = self.canaries.iter().map(Canary::label).collect();
        let formats: Vec<&str> = self.formats.iter().map(|format| format.name).collect();
        f.debug_struct("Scanner")
            .field("canaries", &canaries)
            .field("formats", &formats)
            .finish()
    }
}

impl Scanner {
    /// Compiles a scanner for `canaries` (exact values) and `formats`. A format whose name
    /// repeats an earlier one is left out, so format lists can be combined.
    pub fn new(canaries: Vec<Canary>, formats: Vec<Format>) -> Result<Self, ScanError> {
        let mut unique_formats: Vec<Format> = Vec::with_capacity(formats.len());
        for format in formats {
            if !unique_formats.iter().any(|known| known.name == format.name) {
                unique_formats.push(format);
            }
        }
        let formats = unique_formats;

        for canary in &canaries {
            let len = canary.value().len();
            if len < MIN_CANARY_LEN {
                return Err(ScanError::CanaryTooShort {
                    label: canary.label().to_owned(),
                    len,
                });
            }
        }

        let canary_groups = canary_group::build(&canaries)?;
        let mut group_of = vec![0; canaries.len()];
        for (group_index, group) in canary_groups.iter().enumerate() {
            for &member in &group.members {
                group_of[member] = group_index;
            }
        }

        let (prefilter, without_literals) = LiteralPrefilter::build(&formats)?;
        let anchors = if without_literals.is_empty() {
            None
        } else {
            let patterns: Vec<&str> = without_literals
                .iter()
                .map(|&index| formats[index].anchor)
                .collect();
            let anchors = format::byte_regex(&patterns)
                .map_err(|error| first_invalid_anchor(&formats, error))?;
            Some((anchors, without_literals))
        };

        let longest_canary = canaries
            .iter()
            .map(|canary| canary.value().len())
            .max()
            .unwrap_or(0);
        let longest_format = formats
            .iter()
            .map(|format| format.max_len)
            .max()
            .unwrap_or(0);

        Ok(Self {
            canaries,
            canary_groups,
            group_of,
            formats,
            prefilter,
            anchors,
            max_match_len: longest_canary.max(longest_format).max(1),
        })
    }

    /// Returns the canaries the scanner looks for.
    pub fn canaries(&self) -> &[Canary] {
        &self.canaries
    }

    /// Returns the formats the scanner looks for.
    pub fn formats(&self) -> &[Format] {
        &self.formats
    }

    /// Maximum match length, in bytes: the overlap kept between stream blocks.
    pub fn max_match_len(&self) -> usize {
        self.max_match_len
    }

    /// Starts a streaming scan of `source` (a name for findings, such as `app stdout`).
    pub fn stream(&self, source: impl Into<String>) -> StreamScan<'_> {
        StreamScan::new(self, source.into())
    }

    /// Scans a whole byte slice as one stream; locations are lines and columns.
    pub fn scan_bytes(&self, source: impl Into<String>, bytes: &[u8]) -> Vec<Finding> {
        let mut stream = self.stream(source);
        stream.feed(bytes);
        stream.finish()
    }

    /// Scans text as one stream; locations are lines and columns.
    pub fn scan_text(&self, source: impl Into<String>, text: &str) -> Vec<Finding> {
        self.scan_bytes(source, text.as_bytes())
    }

    /// Scans everything `reader` returns, in blocks, and returns the findings.
    pub fn scan_reader(
        &self,
        source: impl Into<String>,
        mut reader: impl Read,
    ) -> std::io::Result<Vec<Finding>> {
        let mut stream = self.stream(source);
        let mut block = vec![0u8; stream::READ_BLOCK_LEN];
        loop {
            let read = match reader.read(&mut block) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            stream.feed(&block[..read]);
        }
        Ok(stream.finish())
    }

    /// Scans every string and object key of a JSON document. Locations are field paths such as
    /// `$.items[0].password_hash`.
    pub fn scan_json(&self, source: impl Into<String>, value: &serde_json::Value) -> Vec<Finding> {
        json::scan(self, &source.into(), value)
    }

    /// Returns whether `bytes` contains any canary or format.
    pub fn is_match(&self, bytes: &[u8]) -> bool {
        !self.hits(bytes, 0).is_empty()
    }

    /// Finds every match in `haystack` that starts at or after `from`, sorted by start. Bytes
    /// before `from` are context for look-around such as `\b`. Matches of one detector do not
    /// overlap; matches of different detectors may.
    pub(crate) fn hits(&self, haystack: &[u8], from: usize) -> Vec<Hit> {
        self.hits_from(haystack, from, |_| from)
    }

    /// Like [`Scanner::hits`], but each detector's search starts at `start_of(detector)`, which
    /// is at least `from`. A stream uses it to resume each detector after its last match.
    pub(crate) fn hits_from(
        &self,
        haystack: &[u8],
        from: usize,
        start_of: impl Fn(Detector) -> usize,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();

        for group in &self.canary_groups {
            // A group's matches never overlap, so its canaries share a start.
            let start = start_of(Detector::Canary(group.members[0])).clamp(from, haystack.len());
            let input = aho_corasick::Input::new(haystack).span(start..haystack.len());
            for found in group.automaton.find_iter(input) {
                hits.push(Hit {
                    start: found.start(),
                    end: found.end(),
                    secret: (found.start(), found.end()),
                    detector: Detector::Canary(group.members[found.pattern().as_usize()]),
                });
            }
        }

        // End of the last match of each format, so that a format's matches do not overlap.
        let mut format_end: Vec<usize> = (0..self.formats.len())
            .map(|index| start_of(Detector::Format(index)).max(from))
            .collect();
        let mut confirm = |index: usize, start: usize, hits: &mut Vec<Hit>| {
            if start < format_end[index] {
                return;
            }
            if let Some((end, secret)) = self.formats[index].confirm(haystack, start) {
                format_end[index] = end;
                hits.push(Hit {
                    start,
                    end,
                    secret,
                    detector: Detector::Format(index),
                });
            }
        };
        if let Some(prefilter) = &self.prefilter {
            for candidate in prefilter.candidates(haystack, from) {
                for &index in candidate.formats {
                    confirm(index, candidate.start, &mut hits);
                }
            }
        }
        if let Some((anchors, format_of)) = &self.anchors {
            let input = regex_automata::Input::new(haystack).span(from..haystack.len());
            for anchor in anchors.find_iter(input) {
                confirm(
                    format_of[anchor.pattern().as_usize()],
                    anchor.start(),
                    &mut hits,
                );
            }
        }

        hits.sort_by_key(|hit| (hit.start, hit.detector));
        hits
    }

    /// Returns the detector whose last match a stream resumes `detector` after: a canary's
    /// group shares one, named by the group's first canary.
    pub(crate) fn resume_key(&self, detector: Detector) -> Detector {
        match detector {
            Detector::Canary(index) => {
                Detector::Canary(self.canary_groups[self.group_of[index]].members[0])
            }
            format => format,
        }
    }

    /// Returns whether `detector` is a format whose secret ends where the format guesses, such
    /// as a password value that may go on past a space, so that excerpts hide what follows it.
    pub(crate) fn guesses_secret_end(&self, detector: Detector) -> bool {
        match detector {
            Detector::Canary(_) => false,
            Detector::Format(index) => self.formats[index].has_secret_group(),
        }
    }

    /// Label of a detector, as shown in findings and in place of the match in excerpts.
    pub(crate) fn label(&self, detector: Detector) -> &str {
        match detector {
            Detector::Canary(index) => self.canaries[index].label(),
            Detector::Format(index) => self.formats[index].name,
        }
    }
}

/// Finds which format's anchor made the regex set fail, for the error message.
fn first_invalid_anchor(formats: &[Format], error: String) -> ScanError {
    let name = formats
        .iter()
        .find(|format| format::byte_regex(&[format.anchor]).is_err())
        .map_or("(regex set)", |format| format.name);
    ScanError::Format {
        name,
        reason: format!("invalid anchor: {error}"),
    }
}

#[cfg(test)]
mod tests;
