//! Counts in check messages, with the noun in the singular for one.

/// Returns `count` followed by `singular` when it is 1 and by `plural` otherwise, such as
/// `1 migration` or `3 migrations`.
pub fn count_noun(count: usize, singular: &str, plural: &str) -> String {
    match count {
        1 => format!("1 {singular}"),
        _ => format!("{count} {plural}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_noun_picks_number() {
        assert_eq!(count_noun(0, "row", "rows"), "0 rows");
        assert_eq!(count_noun(1, "row", "rows"), "1 row");
        assert_eq!(count_noun(2, "row", "rows"), "2 rows");
    }
}
