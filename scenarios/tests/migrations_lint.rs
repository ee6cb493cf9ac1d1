//! `migrations.lint` on the project's migrations and its allow-list, and its self-tests with a
//! non-concurrent index build on an existing table, in a sqlx and in a Prisma Migrate folder,
//! and with a concurrent build in a `-- no-transaction` file, alone and after `SET` statements,
//! and with allow-list entries that cannot match. The check reads files only.

mod common;

use common::describe;
use harness::check::Status;
use scenarios::fixtures::{
    concurrent_index_migrations_dir, concurrent_index_with_set_migrations_dir,
    index_existing_table_migrations_dir, lint_allow_invalid_migrations_dir, migrations_dir,
    prisma_migrations_dir,
};
use scenarios::migrations_lint;

#[test]
fn migrations_lint_passes() {
    let result = migrations_lint::lint_folder(&migrations_dir());

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[test]
fn migrations_lint_flags_index_on_existing_table() {
    let result = migrations_lint::lint_folder(&index_existing_table_migrations_dir());

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_index_notes_title.sql) line 6: require-concurrent-index-creation:"
        ),
        "{}",
        describe(&result)
    );
}

#[test]
fn migrations_lint_reads_prisma_folder() {
    let result = migrations_lint::lint_folder(&prisma_migrations_dir());

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.findings.iter().any(|finding| finding.starts_with(
            "migration 20240103000000 (20240103000000_index_notes_title/migration.sql) line 1: \
             require-concurrent-index-creation:"
        )),
        "a finding should name the Prisma migration and the index rule: {}",
        describe(&result)
    );
}

#[test]
fn migrations_lint_passes_lone_concurrent_index() {
    let result = migrations_lint::lint_folder(&concurrent_index_migrations_dir());

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[test]
fn migrations_lint_flags_concurrent_index_after_set() {
    let result = migrations_lint::lint_folder(&concurrent_index_with_set_migrations_dir());

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_index_notes_title.sql) line 7: sqlx-no-transaction-statement-alone: \
             CREATE INDEX CONCURRENTLY fails in this file"
        ),
        "{}",
        describe(&result)
    );
    assert!(
        !result.findings[0].contains("lint-allow.toml"),
        "a transaction rule cannot be allow-listed, so the finding should not suggest it: {}",
        describe(&result)
    );
}

#[test]
fn migrations_lint_reports_invalid_entries_once() {
    let result = migrations_lint::lint_folder(&lint_allow_invalid_migrations_dir());

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 3, "{}", describe(&result));
    assert!(
        result.findings[0].contains("\"sqlx-no-transaction-required\"")
            && result.findings[0].contains("cannot be allow-listed"),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[1].contains("\"no-such-rule\"")
            && result.findings[1].contains("unknown squawk rule"),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[2].contains("\"0009_gone.sql\"")
            && result.findings[2].contains("does not exist"),
        "{}",
        describe(&result)
    );
}
