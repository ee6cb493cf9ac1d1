//! The formats' first pass: the literal prefixes of every anchor in one aho-corasick automaton.
//!
//! A regex set of all anchors expands its alternations and case variants into more literals
//! than its own prefilter accepts, and then reads every byte with a slower engine. A few dozen
//! literals fit aho-corasick's SIMD searcher, so the first pass reads the haystack at memory
//! speed, and each literal match is then confirmed by its format's full pattern.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

use super::format::Format;

/// Shortest literal the prefilter accepts. A one-byte literal such as `$` would confirm the
/// full pattern at most positions of some text, which is the slow path this module avoids.
const MIN_LITERAL_LEN: usize = 2;

/// Largest class the extractor expands into literals: `[PH]` becomes `P` and `H`, while
/// `[0-9]` ends the prefix.
const MAX_CLASS_LEN: usize = 4;

/// Literal prefixes of the formats' anchors and the formats each one starts.
pub(crate) struct LiteralPrefilter {
    automaton: AhoCorasick,
    /// For each literal, the indexes of the formats whose anchor can start with it.
    formats_of: Vec<Vec<usize>>,
}

/// A literal match: where it starts and which formats to confirm there.
pub(crate) struct Candidate<'p> {
    pub start: usize,
    pub formats: &'p [usize],
}

impl LiteralPrefilter {
    /// Builds the prefilter for the formats whose anchors have literal prefixes of at least
    /// two bytes. Returns it (or `None` when no format qualifies) and the indexes of the other
    /// formats, which the caller searches with their anchors instead.
    pub(crate) fn build(
        formats: &[Format],
    ) -> Result<(Option<Self>, Vec<usize>), aho_corasick::BuildError> {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut formats_of: Vec<Vec<usize>> = Vec::new();
        let mut without_literals = Vec::new();

        for (index, format) in formats.iter().enumerate() {
            let Some(prefixes) = anchor_prefixes(format.anchor) else {
                without_literals.push(index);
                continue;
            };
            for prefix in prefixes {
                match literals.iter().position(|known| *known == prefix) {
                    Some(known) => formats_of[known].push(index),
                    None => {
                        literals.push(prefix);
                        formats_of.push(vec![index]);
                    }
                }
            }
        }

        if literals.is_empty() {
            return Ok((None, without_literals));
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&literals)?;
        Ok((
            Some(Self {
                automaton,
                formats_of,
            }),
            without_literals,
        ))
    }

    /// Returns the literal matches that start at or after `from`, sorted by start. They do not
    /// overlap: at each position the longest literal wins, and a literal that starts inside an
    /// earlier match is not reported.
    pub(crate) fn candidates(&self, haystack: &[u8], from: usize) -> Vec<Candidate<'_>> {
        let input = aho_corasick::Input::new(haystack).span(from..haystack.len());
        self.automaton
            .find_iter(input)
            .map(|found| Candidate {
                start: found.start(),
                formats: &self.formats_of[found.pattern().as_usize()],
            })
            .collect()
    }
}

/// Returns the literal prefixes of an anchor: every match of the anchor starts with one of
/// them. `None` when the anchor has no finite set of them, or one is shorter than two bytes.
fn anchor_prefixes(anchor: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(anchor)
        .ok()?;
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_class(MAX_CLASS_LEN);
    let sequence = extractor.extract(&hir);
    let literals = sequence.literals()?;
    if literals.is_empty()
        || literals
            .iter()
            .any(|literal| literal.as_bytes().len() < MIN_LITERAL_LEN)
    {
        return None;
    }
    Some(
        literals
            .iter()
            .map(|literal| literal.as_bytes().to_vec())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(anchor: &str) -> Option<Vec<String>> {
        anchor_prefixes(anchor).map(|literals| {
            literals
                .into_iter()
                .map(|literal| String::from_utf8(literal).expect("ASCII literal"))
                .collect()
        })
    }

    #[test]
    fn alternation_expands_into_literals() {
        let found = prefixes(r"(?-u)\$argon2(?:id|i|d)\$").expect("literal prefixes");

        assert_eq!(found, ["$argon2id$", "$argon2i$", "$argon2d$"]);
    }

    #[test]
    fn small_class_expands() {
        let found = prefixes(r"(?-u)\$[PH]\$").expect("literal prefixes");

        assert_eq!(found, ["$H$", "$P$"]);
    }

    #[test]
    fn large_class_ends_prefix() {
        let found = prefixes(r"(?-u)scrypt:[0-9]").expect("literal prefixes");

        assert_eq!(found, ["scrypt:"]);
    }

    #[test]
    fn word_boundary_is_skipped() {
        let found = prefixes(r"(?-u)\bmd5[0-9a-f]{32}\b").expect("literal prefixes");

        assert_eq!(found, ["md5"]);
    }

    #[test]
    fn short_prefix_rejected() {
        assert_eq!(prefixes(r"(?-u)\$[A-Za-z]{4}"), None);
    }

    #[test]
    fn leading_class_rejected() {
        assert_eq!(prefixes(r"(?-u)[a-z]{3}://"), None);
    }

    #[test]
    fn longest_literal_wins() {
        let formats =
            vec![Format::new("a", r"(?-u)\$?pbkdf2", r"(?-u)\$?pbkdf2_x", None).expect("format")];
        let (prefilter, rest) = LiteralPrefilter::build(&formats).expect("prefilter");
        let prefilter = prefilter.expect("the anchor has literal prefixes");

        let starts: Vec<usize> = prefilter
            .candidates(b"..$pbkdf2_x", 0)
            .iter()
            .map(|candidate| candidate.start)
            .collect();

        assert!(rest.is_empty(), "every format has literals: {rest:?}");
        assert_eq!(starts, [2]);
    }
}
