//! Self-test fixtures: broken variants of the project's files that a check
//! must reject.

use std::path::PathBuf;

use harness::config::default_workspace;

/// Migrations folder of the project.
pub fn migrations_dir() -> PathBuf {
    default_workspace().join("migrations")
}

/// Folder of the self-test fixtures, `scenarios/fixtures`, found at run time so that a test
/// run from a nextest archive reads the copy that travelled with it.
fn fixtures_dir() -> PathBuf {
    default_workspace().join("scenarios").join("fixtures")
}

/// A copy of `migrations/` in which [`EXTRA_COLUMN_FILE`] ends with
/// [`EXTRA_COLUMN_STATEMENT`]: `migrations.replay` must fail on the schema snapshot.
pub fn extra_column_migrations_dir() -> PathBuf {
    fixtures_dir().join("migrations-extra-column")
}

/// The only file of the extra-column fixture that differs from `migrations/`.
pub const EXTRA_COLUMN_FILE: &str = "0002_create_videos.sql";

/// Text appended to [`EXTRA_COLUMN_FILE`] in the extra-column fixture.
pub const EXTRA_COLUMN_STATEMENT: &str = "
-- Self-test fixture: a column that the committed schema snapshot does not have,
-- so migrations.replay must fail on the snapshot comparison.
ALTER TABLE videos ADD COLUMN fixture_note text;
";

/// A migrations folder of its own (a `notes` table) whose version 3,
/// `0003_drop_notes_body.sql`, drops the column `notes.body`, which contains the
/// data of the rows of versions 1 and 2: `migrations.stepwise` must report it.
pub fn drop_column_migrations_dir() -> PathBuf {
    fixture_dir("migrations-drop-column")
}

/// A copy of `migrations/` plus [`DELETE_AUDIT_ROWS_FILE`], which deletes the `audit_log` rows
/// whose action is `delete`: `migrations.stepwise` must report it, because its generated rows
/// include every action that `audit_log_action_check` allows.
pub fn delete_audit_rows_migrations_dir() -> PathBuf {
    fixture_dir("migrations-delete-audit-rows")
}

/// The migration that the delete-audit-rows fixture adds after the copy of `migrations/`.
pub const DELETE_AUDIT_ROWS_FILE: &str = "0006_delete_audit_log_deletes.sql";

/// A migrations folder of its own whose table `tickets` has a CHECK constraint,
/// `tickets_code_check` on column `code`, that the row generator of `migrations.stepwise`
/// cannot satisfy, and whose version 3, `0003_delete_notes.sql`, deletes the rows of the other
/// table, `notes`: the check must report both, naming the table, constraint and column of the
/// first.
pub fn unsatisfiable_check_migrations_dir() -> PathBuf {
    fixture_dir("migrations-unsatisfiable-check")
}

/// Returns a migrations folder of its own whose table `order_lines` has a foreign key of two
/// columns, which the row generator of `migrations.stepwise` does not follow. Its version 2,
/// `0002_delete_orders.sql`, deletes the rows of the other table, `orders`. The check must
/// report both.
pub fn composite_foreign_key_migrations_dir() -> PathBuf {
    fixture_dir("migrations-composite-foreign-key")
}

/// A migrations folder of its own with an enum column, `notes.status` of type `note_status`,
/// whose version 2, `0002_delete_published_notes.sql`, deletes the rows of the second label:
/// `migrations.stepwise` must report it, because its generated rows include every label.
pub fn enum_labels_migrations_dir() -> PathBuf {
    fixture_dir("migrations-enum-labels")
}

/// A migrations folder of its own whose version 2 renames the table `notes` to `memos` and its
/// column `body` to `text`, keeping every row: `migrations.stepwise` must pass.
pub fn rename_table_migrations_dir() -> PathBuf {
    fixture_dir("migrations-rename-table")
}

/// The rename-table folder with a version 2, `0002_rename_notes_lose_row.sql`, that also
/// deletes one row of the renamed table: `migrations.stepwise` must report it.
pub fn rename_table_lose_rows_migrations_dir() -> PathBuf {
    fixture_dir("migrations-rename-table-lose-rows")
}

/// A migrations folder of its own whose version 2, `0002_add_notes_owner.sql`, adds a NOT NULL
/// column without a default: it applies to an empty table but fails on the rows of version 1,
/// which `migrations.stepwise` must report.
pub fn not_null_column_migrations_dir() -> PathBuf {
    fixture_dir("migrations-not-null-column")
}

/// A migrations history of its own (a `notes` table, versions 1, 2 and 4) to apply before
/// `migrations.tamper` compares the ledger with one of the tampered folders below.
pub fn tamper_applied_migrations_dir() -> PathBuf {
    fixture_dir("migrations-tamper-applied")
}

/// The applied history with `0002_add_notes_title.sql` edited.
pub fn tamper_edited_migrations_dir() -> PathBuf {
    fixture_dir("migrations-tamper-edited")
}

/// The applied history without `0002_add_notes_title.sql`.
pub fn tamper_missing_migrations_dir() -> PathBuf {
    fixture_dir("migrations-tamper-missing")
}

/// The applied history plus a new `0003_add_notes_tag.sql`, numbered below the applied 4.
pub fn tamper_lower_migrations_dir() -> PathBuf {
    fixture_dir("migrations-tamper-lower")
}

/// A migrations folder of its own whose version 2, `0002_index_notes_title.sql`, builds an
/// index without `CONCURRENTLY` on the table of version 1: `migrations.lint` must report it.
pub fn index_existing_table_migrations_dir() -> PathBuf {
    fixture_dir("migrations-index-existing-table")
}

/// A migrations folder of its own whose version 2, `0002_index_notes_title.sql`, is a
/// `-- no-transaction` file with `CREATE INDEX CONCURRENTLY` as its only statement:
/// `migrations.lint` and `migrations.stepwise` must pass.
pub fn concurrent_index_migrations_dir() -> PathBuf {
    fixture_dir("migrations-concurrent-index")
}

/// The concurrent-index folder with `SET lock_timeout` and `SET statement_timeout` before the
/// build in the same `-- no-transaction` file: `migrations.lint` must report it, and
/// `migrations.stepwise` must report that Postgres rejects it.
pub fn concurrent_index_with_set_migrations_dir() -> PathBuf {
    fixture_dir("migrations-concurrent-index-with-set")
}

/// A migrations folder of its own with a down file for every migration, each undoing exactly
/// its up file: `migrations.roundtrip` must pass.
pub fn reversible_migrations_dir() -> PathBuf {
    fixture_dir("migrations-reversible")
}

/// The reversible folder with a down file for version 2 that leaves out the CHECK constraint
/// `notes_body_check` of its up file: `migrations.roundtrip` must report it.
pub fn reversible_incomplete_migrations_dir() -> PathBuf {
    fixture_dir("migrations-reversible-incomplete")
}

/// A Prisma Migrate folder (`<timestamp>_<name>/migration.sql`) of its own: a `notes` table, a
/// column added with a default, and a non-concurrent index on the existing table, which
/// `migrations.lint` must report.
pub fn prisma_migrations_dir() -> PathBuf {
    fixture_dir("prisma-migrations")
}

/// A migrations folder of its own whose tables live in schema `side`, and whose version 2,
/// `0002_drop_side_data.sql`, drops `side.flags` and deletes the rows of `side.notes`:
/// `migrations.stepwise` must report both under their schema-qualified names.
pub fn other_schema_migrations_dir() -> PathBuf {
    fixture_dir("migrations-other-schema")
}

/// A migrations folder of its own whose version 2, `0002_set_note_not_null.sql`, deletes the
/// rows of `notes` whose nullable column `note` is NULL: `migrations.stepwise` must report it,
/// because it generates a row with NULL in every nullable column.
pub fn delete_null_rows_migrations_dir() -> PathBuf {
    fixture_dir("migrations-delete-null-rows")
}

/// A migrations folder of its own whose version 2, `0002_delete_out_of_range.sql`, deletes the
/// rows of `readings` whose integer `n` is negative or above 1000: `migrations.stepwise` must
/// report it, because it generates negative and near-maximum integers.
pub fn delete_extreme_integers_migrations_dir() -> PathBuf {
    fixture_dir("migrations-delete-extreme-integers")
}

/// A migrations folder of its own whose only table, `shapes`, has a `polygon` column, for which
/// the row generator has no value: `migrations.stepwise` must report the unfilled table and that
/// the run generated no row at all.
pub fn unfillable_only_migrations_dir() -> PathBuf {
    fixture_dir("migrations-unfillable-only")
}

/// Returns a migrations folder without lint findings whose `lint-allow.toml` has three entries
/// that cannot match: a transaction rule, an unknown rule and a missing migration file.
/// `migrations.lint` must report each entry once.
pub fn lint_allow_invalid_migrations_dir() -> PathBuf {
    fixture_dir("migrations-lint-allow-invalid")
}

fn fixture_dir(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::Path;

    use super::*;

    const RESYNC_HINT: &str = "migrations/ changed: copy it into \
        scenarios/fixtures/migrations-extra-column/ and append EXTRA_COLUMN_STATEMENT \
        to EXTRA_COLUMN_FILE again";

    /// Reads the `.sql` files of `dir`: the migrations, without `lint-allow.toml`.
    fn read_folder(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("folder {} should be readable: {error}", dir.display()))
            .map(|entry| {
                let entry = entry.expect("folder entry should be readable");
                let name = entry.file_name().to_string_lossy().into_owned();
                let bytes = fs::read(entry.path()).expect("fixture file should be readable");
                (name, bytes)
            })
            .filter(|(name, _)| name.ends_with(".sql"))
            .collect()
    }

    #[test]
    fn extra_column_fixture_has_same_files() {
        let migrations = read_folder(&migrations_dir());
        let fixture = read_folder(&extra_column_migrations_dir());

        let migration_names: Vec<&String> = migrations.keys().collect();
        let fixture_names: Vec<&String> = fixture.keys().collect();
        assert_eq!(fixture_names, migration_names, "{RESYNC_HINT}");
    }

    #[test]
    fn extra_column_fixture_differs_only_in_file() {
        let migrations = read_folder(&migrations_dir());
        let fixture = read_folder(&extra_column_migrations_dir());

        for (name, original) in &migrations {
            let Some(copy) = fixture.get(name) else {
                continue;
            };
            if name == EXTRA_COLUMN_FILE {
                let mut expected = original.clone();
                expected.extend_from_slice(EXTRA_COLUMN_STATEMENT.as_bytes());
                assert!(
                    *copy == expected,
                    "fixture {name} should be the migration plus EXTRA_COLUMN_STATEMENT; \
                     {RESYNC_HINT}"
                );
            } else {
                assert!(*copy == *original, "fixture {name} differs; {RESYNC_HINT}");
            }
        }
    }

    #[test]
    fn delete_audit_rows_fixture_copies_migrations() {
        let migrations = read_folder(&migrations_dir());
        let mut fixture = read_folder(&delete_audit_rows_migrations_dir());

        let added = fixture.remove(DELETE_AUDIT_ROWS_FILE);

        assert!(
            added.is_some(),
            "the delete-audit-rows fixture should contain {DELETE_AUDIT_ROWS_FILE}"
        );
        assert!(
            fixture == migrations,
            "migrations/ changed: copy its .sql files into \
             scenarios/fixtures/migrations-delete-audit-rows/ again, and renumber \
             {DELETE_AUDIT_ROWS_FILE} so that it stays the last migration"
        );
    }

    #[test]
    fn extra_column_fixture_changes_file() {
        let migrations = read_folder(&migrations_dir());

        assert!(
            migrations.contains_key(EXTRA_COLUMN_FILE),
            "{EXTRA_COLUMN_FILE} should exist in migrations/; pick another file for the fixture"
        );
    }
}
