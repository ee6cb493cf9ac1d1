//! The lint allow-list, `lint-allow.toml` in the migrations folder: reviewed exceptions to
//! `migrations.lint`, each naming the squawk rule, the migration file and the reason.
//!
//! ```toml
//! [[allow]]
//! rule = "prefer-bigint-over-int"
//! migration = "0002_create_videos.sql"
//! reason = "duration_seconds is at most 86400 by its CHECK constraint"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::transaction_mode::is_transaction_rule;

/// File name of the allow-list inside a migrations folder.
pub const ALLOW_LIST_FILE: &str = "lint-allow.toml";

/// One reviewed exception.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    /// Squawk rule name, such as `require-concurrent-index-creation`.
    pub rule: String,
    /// File name of the migration, such as `0002_create_videos.sql`.
    pub migration: String,
    /// Reason the operation is safe in this migration.
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowListFile {
    #[serde(default)]
    allow: Vec<Allowance>,
}

/// Failure to read the allow-list.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    /// The file exists but cannot be read.
    #[error("cannot read the lint allow-list {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error(
        "invalid lint allow-list {path}: {source}; each [[allow]] entry needs rule, migration \
         and reason"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error, which names the line.
        source: toml::de::Error,
    },
}

/// Reads `lint-allow.toml` from `dir`. A folder without the file has no exceptions.
pub fn read_allow_list(dir: &Path) -> Result<Vec<Allowance>, AllowListError> {
    let path = dir.join(ALLOW_LIST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(AllowListError::Read { path, source }),
    };
    let file: AllowListFile =
        toml::from_str(&text).map_err(|source| AllowListError::Parse { path, source })?;
    Ok(file.allow)
}

/// Returns whether `entry` can match a violation: it names a squawk rule, not one of the
/// transaction rules, and a migration file of the folder. An entry that cannot match has its
/// own finding from [`validate_allow_list`], so it needs no "matches no violation" finding.
pub fn can_match(entry: &Allowance, file_names: &[&str]) -> bool {
    entry.rule.parse::<squawk_linter::Rule>().is_ok()
        && file_names.contains(&entry.migration.as_str())
}

/// Returns a finding for each entry that cannot be right: a transaction rule, which cannot be
/// allow-listed, an unknown rule name, a migration file that does not exist, or an empty reason.
pub fn validate_allow_list(allow_list: &[Allowance], file_names: &[&str]) -> Vec<String> {
    let mut findings = Vec::new();
    for entry in allow_list {
        let label = format!(
            "{ALLOW_LIST_FILE} entry (rule {:?}, migration {:?})",
            entry.rule, entry.migration
        );
        if is_transaction_rule(&entry.rule) {
            findings.push(format!(
                "{label} names a rule that cannot be allow-listed: a migration that breaks it \
                 fails to apply, because Postgres rejects the statement inside a transaction \
                 block. Remove the entry and change the migration as the finding says"
            ));
        } else if entry.rule.parse::<squawk_linter::Rule>().is_err() {
            findings.push(format!(
                "{label} names an unknown squawk rule; use a rule name from squawk-linter 2.68"
            ));
        }
        if !file_names.contains(&entry.migration.as_str()) {
            findings.push(format!(
                "{label} names a migration file that does not exist in the folder"
            ));
        }
        if entry.reason.trim().is_empty() {
            findings.push(format!(
                "{label} has an empty reason; say why the operation is safe"
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rule: &str, migration: &str, reason: &str) -> Allowance {
        Allowance {
            rule: rule.to_owned(),
            migration: migration.to_owned(),
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn parse_reads_entries() {
        let file: AllowListFile = toml::from_str(
            "[[allow]]\nrule = \"ban-drop-column\"\nmigration = \"0003_x.sql\"\nreason = \"unused\"\n",
        )
        .expect("allow-list should parse");

        assert_eq!(
            file.allow,
            [entry("ban-drop-column", "0003_x.sql", "unused")]
        );
    }

    #[test]
    fn parse_rejects_entry_without_reason() {
        let result: Result<AllowListFile, _> =
            toml::from_str("[[allow]]\nrule = \"ban-drop-column\"\nmigration = \"0003_x.sql\"\n");

        assert!(
            result.is_err(),
            "an entry without reason should be rejected"
        );
    }

    #[test]
    fn validate_accepts_known_rule_and_file() {
        let allow_list = [entry("ban-drop-column", "0003_x.sql", "unused")];

        let findings = validate_allow_list(&allow_list, &["0003_x.sql"]);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn validate_flags_invalid_entry() {
        let allow_list = [entry("no-such-rule", "0009_gone.sql", " ")];

        let findings = validate_allow_list(&allow_list, &["0003_x.sql"]);

        assert_eq!(findings.len(), 3, "findings: {findings:?}");
        assert!(
            findings[0]
                .ends_with("names an unknown squawk rule; use a rule name from squawk-linter 2.68")
        );
        assert!(findings[1].ends_with("names a migration file that does not exist in the folder"));
        assert!(findings[2].ends_with("has an empty reason; say why the operation is safe"));
    }

    #[test]
    fn validate_flags_transaction_rule() {
        let allow_list = [entry(
            "sqlx-no-transaction-required",
            "0003_x.sql",
            "reviewed",
        )];

        let findings = validate_allow_list(&allow_list, &["0003_x.sql"]);

        assert_eq!(findings.len(), 1, "findings: {findings:?}");
        assert!(
            findings[0].contains("names a rule that cannot be allow-listed"),
            "finding: {}",
            findings[0]
        );
        assert!(
            !findings[0].contains("unknown squawk rule"),
            "finding: {}",
            findings[0]
        );
        assert!(!can_match(&allow_list[0], &["0003_x.sql"]));
    }

    #[test]
    fn can_match_needs_rule_and_file() {
        assert!(can_match(
            &entry("ban-drop-column", "0003_x.sql", "unused"),
            &["0003_x.sql"]
        ));
        assert!(!can_match(
            &entry("no-such-rule", "0003_x.sql", "unused"),
            &["0003_x.sql"]
        ));
        assert!(!can_match(
            &entry("ban-drop-column", "0009_gone.sql", "unused"),
            &["0003_x.sql"]
        ));
    }
}
