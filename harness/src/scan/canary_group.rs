//! Canaries split into automata by their first byte, so that each automaton keeps a prefilter.
//!
//! aho-corasick skips ahead with a prefilter: for a few dozen patterns a SIMD search of all of
//! them, for more patterns a search for the few bytes they start with. A thousand stored
//! password hashes all start with `$`, so their automaton only wakes at a `$`. Four role
//! passwords of random characters added to that automaton give it dozens of start bytes, and
//! it falls back to reading every byte, five times slower. Two automata read the haystack
//! twice, each at prefilter speed.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::Canary;

/// Maximum number of patterns for which aho-corasick uses its SIMD searcher (Teddy), as of
/// aho-corasick 1.1.5.
const SMALL_SET_LEN: usize = 64;

/// Maximum number of distinct first bytes for aho-corasick's start-byte prefilter (1.1.5).
const MAX_START_BYTES: usize = 3;

/// One automaton and the canaries it matches.
pub(crate) struct CanaryGroup {
    pub automaton: AhoCorasick,
    /// Index in the scanner's canaries of each pattern of the automaton.
    pub members: Vec<usize>,
}

/// Splits `canaries` into at most two groups when they are too many for the SIMD searcher. The
/// first group takes the canaries that start with the most common first byte, then the next
/// most common (three at most), until the rest are few enough for the SIMD searcher. The second
/// group takes the rest.
pub(crate) fn build(canaries: &[Canary]) -> Result<Vec<CanaryGroup>, aho_corasick::BuildError> {
    let members: Vec<Vec<usize>> = split(canaries)
        .into_iter()
        .filter(|group| !group.is_empty())
        .collect();
    members
        .into_iter()
        .map(|members| {
            let automaton = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(
                    members
                        .iter()
                        .map(|&index| canaries[index].value().as_bytes()),
                )?;
            Ok(CanaryGroup { automaton, members })
        })
        .collect()
}

fn split(canaries: &[Canary]) -> Vec<Vec<usize>> {
    let all: Vec<usize> = (0..canaries.len()).collect();
    if canaries.len() <= SMALL_SET_LEN {
        return vec![all];
    }

    let mut counts = [0usize; 256];
    for canary in canaries {
        counts[usize::from(canary.value().as_bytes()[0])] += 1;
    }
    let mut bytes: Vec<usize> = (0..256).filter(|&byte| counts[byte] > 0).collect();
    bytes.sort_by_key(|&byte| std::cmp::Reverse(counts[byte]));
    let mut common = Vec::new();
    let mut rest_len = canaries.len();
    for byte in bytes.into_iter().take(MAX_START_BYTES) {
        if rest_len <= SMALL_SET_LEN {
            break;
        }
        common.push(byte);
        rest_len -= counts[byte];
    }

    let (frequent, rest): (Vec<usize>, Vec<usize>) = all
        .into_iter()
        .partition(|&index| common.contains(&usize::from(canaries[index].value().as_bytes()[0])));
    vec![frequent, rest]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn canary(value: String) -> Canary {
        Canary::new(format!("canary {value}"), Secret::new(value))
    }

    #[test]
    fn small_set_stays_whole() {
        let canaries: Vec<Canary> = (0..10).map(|i| canary(format!("value-{i:04}"))).collect();

        let groups = split(&canaries);

        assert_eq!(groups, vec![(0..10).collect::<Vec<_>>()]);
    }

    #[test]
    fn random_starts_split_from_common() {
        let mut canaries: Vec<Canary> = (0..100)
            .map(|i| canary(format!("$argon2id$v=19$hash-{i:04}")))
            .collect();
        canaries.push(canary("Kx81HVUeLh3QbP0w".to_owned()));
        canaries.push(canary("q0Zr7fNwzY2bQ5eJ".to_owned()));

        let groups = split(&canaries);

        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0], (0..100).collect::<Vec<_>>());
        assert_eq!(groups[1], vec![100, 101]);
    }

    #[test]
    fn every_group_finds_its_canaries() {
        let mut canaries: Vec<Canary> = (0..100)
            .map(|i| canary(format!("$argon2id$v=19$hash-{i:04}")))
            .collect();
        canaries.push(canary("Kx81HVUeLh3QbP0w".to_owned()));

        let groups = build(&canaries).expect("automata should build");
        let haystack = b"a Kx81HVUeLh3QbP0w b $argon2id$v=19$hash-0042 c";
        let mut found: Vec<usize> = groups
            .iter()
            .flat_map(|group| {
                group
                    .automaton
                    .find_iter(haystack)
                    .map(|hit| group.members[hit.pattern().as_usize()])
            })
            .collect();
        found.sort();

        assert_eq!(found, vec![42, 100]);
    }
}
