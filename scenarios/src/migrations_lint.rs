//! Check `migrations.lint`: every migration is linted with squawk's linter (the squawk-linter
//! crate, pinned to 2.68.0) for operations that are unsafe on a live production database. Such
//! operations include a non-concurrent index build on an existing table, a NOT NULL column
//! without a default, a column type change and a dropped column or table.
//!
//! sqlx runs each migration in a transaction unless its first line is `-- no-transaction`, so
//! the linter assumes one. With that setting squawk does not flag an index built on a table
//! created earlier in the same migration, because no other session can use that table before the
//! commit. Statements that cannot run in a transaction block, such as `CREATE INDEX
//! CONCURRENTLY`, must stand alone in a `-- no-transaction` file. [`transaction_mode`] reports
//! them and waives the squawk rules whose fix would make them fail.
//!
//! Reviewed exceptions live in the folder's `lint-allow.toml` (see [`allow_list`]). An entry
//! that matches no violation is itself a finding, so the list cannot outlive its reason. It
//! reads sqlx and Prisma Migrate folders (see [`migration_source`]), and a Prisma migration's
//! file name in findings and in the allow-list is `<folder>/migration.sql`.

pub mod allow_list;
pub mod transaction_mode;

use std::path::Path;
use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::Deployment;
use squawk_linter::{Linter, Rule, Violation};

use crate::migration_files::{MigrationFile, migration_label};
use crate::migration_source;
use crate::plural::count_noun;
use allow_list::{ALLOW_LIST_FILE, Allowance, can_match, read_allow_list, validate_allow_list};
use transaction_mode::{apply_transaction_rules, is_transaction_rule, runs_in_transaction};

/// Stable check name.
pub const NAME: &str = "migrations.lint";

/// One violation squawk reported in one migration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintViolation {
    /// File name of the migration.
    pub file_name: String,
    /// Rule name: a squawk rule such as `require-concurrent-index-creation`, or one of the
    /// rules of [`transaction_mode`].
    pub rule: String,
    /// Line of the statement, from 1.
    pub line: usize,
    /// Squawk's message, with its help text when it has one.
    pub message: String,
}

/// Lints the migrations of `deployment.migrations_dir`. It reads files only; the deployment is
/// taken for the same signature as the other checks.
pub async fn run(deployment: &Deployment) -> CheckResult {
    lint_folder(&deployment.migrations_dir)
}

/// Lints every migration in `dir` and applies the folder's allow-list.
pub fn lint_folder(dir: &Path) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, migrations_dir = %dir.display(), "check started");

    let mut findings = Vec::new();
    let summary = lint_with_allow_list(dir, &mut findings);
    let result = CheckResult::from_findings(NAME, started.elapsed(), summary, findings);

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Pushes a finding per violation that the allow-list does not cover and per allow-list entry
/// that is invalid or matches nothing. Returns the message for a pass.
fn lint_with_allow_list(dir: &Path, findings: &mut Vec<String>) -> String {
    let files = match migration_source::read_files(dir) {
        Ok(files) => files,
        Err(error) => {
            findings.push(error.to_string());
            return String::new();
        }
    };
    let allow_list = match read_allow_list(dir) {
        Ok(allow_list) => allow_list,
        Err(error) => {
            findings.push(error.to_string());
            return String::new();
        }
    };
    let file_names: Vec<&str> = files.iter().map(|file| file.file_name.as_str()).collect();
    findings.extend(validate_allow_list(&allow_list, &file_names));

    let mut violations = Vec::new();
    for file in &files {
        let path = dir.join(&file.file_name);
        match std::fs::read_to_string(&path) {
            Ok(sql) => violations.extend(lint_migration(&file.file_name, &sql)),
            Err(error) => findings.push(format!(
                "cannot read migration file {}: {error}",
                path.display()
            )),
        }
    }

    let allowed = violations
        .iter()
        .filter(|violation| allowance_for(&allow_list, violation).is_some())
        .count();
    for violation in &violations {
        if allowance_for(&allow_list, violation).is_none() {
            findings.push(describe_violation(&files, violation));
        }
    }
    for entry in allow_list
        .iter()
        .filter(|entry| can_match(entry, &file_names))
    {
        let used = violations
            .iter()
            .any(|violation| matches_entry(entry, violation));
        if !used {
            findings.push(format!(
                "{ALLOW_LIST_FILE} entry (rule {:?}, migration {:?}) matches no violation; remove \
                 it, because the exception it records no longer exists",
                entry.rule, entry.migration
            ));
        }
    }

    format!(
        "{} linted with squawk-linter 2.68.0: no unsafe operation outside {} of \
         {ALLOW_LIST_FILE}",
        count_noun(files.len(), "migration", "migrations"),
        count_noun(allowed, "reviewed exception", "reviewed exceptions")
    )
}

/// Lints one migration's SQL with squawk's default rules for PostgreSQL 15, inside a
/// transaction unless the file opts out with `-- no-transaction`, then applies the rules of
/// [`transaction_mode`].
pub fn lint_migration(file_name: &str, sql: &str) -> Vec<LintViolation> {
    let parse = squawk_syntax::SourceFile::parse(sql);
    let mut linter = Linter::with_default_rules();
    linter.settings.assume_in_transaction = runs_in_transaction(sql);

    let mut violations: Vec<LintViolation> = linter
        .lint(&parse, sql)
        .into_iter()
        .map(|violation| to_lint_violation(file_name, sql, violation))
        .collect();
    apply_transaction_rules(file_name, sql, &parse, &mut violations);
    violations.sort_by(|a, b| a.line.cmp(&b.line).then(a.rule.cmp(&b.rule)));
    violations
}

fn to_lint_violation(file_name: &str, sql: &str, violation: Violation) -> LintViolation {
    let offset = usize::from(violation.text_range.start()).min(sql.len());
    let line = sql[..offset].matches('\n').count() + 1;
    let message = match violation.help {
        Some(help) => format!("{} {help}", violation.message),
        None => violation.message,
    };
    LintViolation {
        file_name: file_name.to_owned(),
        rule: rule_name(violation.code),
        line,
        message,
    }
}

fn rule_name(rule: Rule) -> String {
    rule.to_string()
}

/// Returns whether `entry` waives `violation`. The transaction rules are never waived, because
/// their violations make the migration fail to apply.
fn matches_entry(entry: &Allowance, violation: &LintViolation) -> bool {
    entry.rule == violation.rule
        && entry.migration == violation.file_name
        && !is_transaction_rule(&violation.rule)
}

fn allowance_for<'a>(
    allow_list: &'a [Allowance],
    violation: &LintViolation,
) -> Option<&'a Allowance> {
    allow_list
        .iter()
        .find(|entry| matches_entry(entry, violation))
}

fn describe_violation(files: &[MigrationFile], violation: &LintViolation) -> String {
    let label = files
        .iter()
        .find(|file| file.file_name == violation.file_name)
        .map(|file| migration_label(files, file.version))
        .unwrap_or_else(|| violation.file_name.clone());
    let finding = format!(
        "{label} line {}: {}: {}",
        violation.line, violation.rule, violation.message
    );
    if is_transaction_rule(&violation.rule) {
        return finding;
    }
    format!("{finding} If it is safe here, record the reason in {ALLOW_LIST_FILE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(violations: &[LintViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.rule.as_str()).collect()
    }

    #[test]
    fn index_on_new_table_is_clean() {
        let sql = "CREATE TABLE notes (id bigint PRIMARY KEY, title text);\n\
                   CREATE INDEX notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0001_notes.sql", sql);

        assert!(
            !rules(&violations).contains(&"require-concurrent-index-creation"),
            "violations: {violations:?}"
        );
    }

    #[test]
    fn index_on_existing_table_is_flagged_with_line() {
        let sql = "-- an index on a table of an earlier migration\n\
                   CREATE INDEX notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_notes_title.sql", sql);

        let index = violations
            .iter()
            .find(|v| v.rule == "require-concurrent-index-creation")
            .unwrap_or_else(|| panic!("the index should be flagged: {violations:?}"));
        assert_eq!(index.line, 2);
    }

    #[test]
    fn unsafe_operations_are_flagged() {
        let cases = [
            (
                "ALTER TABLE notes ADD COLUMN due date NOT NULL;",
                "adding-required-field",
            ),
            (
                "ALTER TABLE notes ALTER COLUMN title TYPE varchar(20);",
                "changing-column-type",
            ),
            ("ALTER TABLE notes DROP COLUMN title;", "ban-drop-column"),
            ("DROP TABLE notes;", "ban-drop-table"),
        ];
        for (sql, rule) in cases {
            let violations = lint_migration("0002_x.sql", sql);

            assert!(
                rules(&violations).contains(&rule),
                "{sql} should be flagged by {rule}: {violations:?}"
            );
        }
    }

    #[test]
    fn no_transaction_migration_is_linted_without_transaction() {
        let sql =
            "-- no-transaction\nCREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        assert!(
            !rules(&violations).contains(&"ban-concurrent-index-creation-in-transaction"),
            "violations: {violations:?}"
        );
    }

    #[test]
    fn lone_concurrent_index_without_transaction_is_clean() {
        let sql = "-- no-transaction\n\
                   CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        assert!(violations.is_empty(), "violations: {violations:?}");
    }

    #[test]
    fn concurrent_index_in_transaction_is_flagged() {
        let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        let rule = violations
            .iter()
            .find(|v| v.rule == transaction_mode::RULE_NO_TRANSACTION_REQUIRED)
            .unwrap_or_else(|| panic!("the index should be flagged: {violations:?}"));
        assert_eq!(rule.line, 1);
        assert!(
            rule.message.contains("`-- no-transaction`"),
            "the message should name the directive: {}",
            rule.message
        );
    }

    #[test]
    fn concurrent_index_in_transaction_is_flagged_once() {
        let sql = "SET lock_timeout = '1s';\n\
                   SET statement_timeout = '5s';\n\
                   CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        assert_eq!(
            rules(&violations),
            [transaction_mode::RULE_NO_TRANSACTION_REQUIRED],
            "squawk's rule for the same statement should give way: {violations:?}"
        );
    }

    #[test]
    fn no_transaction_file_with_set_is_flagged() {
        let sql = "-- no-transaction\n\
                   SET lock_timeout = '1s';\n\
                   CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        let rule = violations
            .iter()
            .find(|v| v.rule == transaction_mode::RULE_NO_TRANSACTION_ALONE)
            .unwrap_or_else(|| panic!("the index should be flagged: {violations:?}"));
        assert_eq!(rule.line, 3);
    }

    #[test]
    fn directive_after_blank_line_is_ignored() {
        // sqlx 0.9.1 reads the directive only at the very start of the file.
        let sql = "\n-- no-transaction\n\
                   CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n";

        let violations = lint_migration("0002_x.sql", sql);

        assert!(
            rules(&violations).contains(&transaction_mode::RULE_NO_TRANSACTION_REQUIRED),
            "violations: {violations:?}"
        );
    }

    #[test]
    fn no_transaction_file_keeps_timeout_rules() {
        // The waiver covers only a lone statement that must run outside a transaction.
        let sql = "-- no-transaction\nALTER TABLE notes ADD COLUMN IF NOT EXISTS due date;\n";

        let violations = lint_migration("0002_x.sql", sql);

        assert!(
            rules(&violations).contains(&"require-lock-timeout"),
            "violations: {violations:?}"
        );
    }

    #[test]
    fn other_outside_transaction_statements_are_flagged() {
        let cases = [
            "DROP INDEX CONCURRENTLY IF EXISTS notes_title_idx;",
            "REINDEX INDEX CONCURRENTLY notes_title_idx;",
            "VACUUM notes;",
            "CREATE DATABASE scratch;",
            "ALTER SYSTEM SET work_mem = '8MB';",
        ];
        for sql in cases {
            let violations = lint_migration("0002_x.sql", sql);

            assert!(
                rules(&violations).contains(&transaction_mode::RULE_NO_TRANSACTION_REQUIRED),
                "{sql} should be flagged: {violations:?}"
            );
        }
    }
}
