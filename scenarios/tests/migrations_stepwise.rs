//! `migrations.stepwise` on the project's migrations and on a Prisma Migrate folder. The
//! self-tests use a migration that drops a column holding data, one that deletes the rows of one
//! allowed CHECK value, one that deletes the rows of one enum label, one that fails on rows, a
//! CHECK constraint that the row generator cannot satisfy, a foreign key of two columns that it
//! does not follow, and a table rename with and without
//! a lost row. Two more show how sqlx applies a `-- no-transaction` file with a concurrent
//! index build, alone and after `SET` statements. The last ones delete data that only the
//! generator's wider values expose (tables of another schema, NULLs, negative and large
//! integers), and fill no table at all.

mod common;

use common::{describe, in_run, test_only};
use harness::check::Status;
use harness::run::RunOptions;
use scenarios::fixtures::{
    composite_foreign_key_migrations_dir, concurrent_index_migrations_dir,
    concurrent_index_with_set_migrations_dir, delete_audit_rows_migrations_dir,
    delete_extreme_integers_migrations_dir, delete_null_rows_migrations_dir,
    drop_column_migrations_dir, enum_labels_migrations_dir, not_null_column_migrations_dir,
    other_schema_migrations_dir, prisma_migrations_dir, rename_table_lose_rows_migrations_dir,
    rename_table_migrations_dir, unfillable_only_migrations_dir,
    unsatisfiable_check_migrations_dir,
};
use scenarios::migrations_stepwise;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_passes() {
    let result = in_run(test_only(), async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_dropped_column() {
    let options = RunOptions {
        migrations_dir: Some(drop_column_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 3 (0003_drop_notes_body.sql) dropped column notes.body, which held data in 7 \
         of 7 rows",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_deleted_action_rows() {
    let options = RunOptions {
        migrations_dir: Some(delete_audit_rows_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 6 (0006_delete_audit_log_deletes.sql) changed the row count of table \
         audit_log from 19 to 13",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_replays_prisma_folder() {
    let options = RunOptions {
        migrations_dir: Some(prisma_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("3 migrations applied one at a time"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_failure_on_rows() {
    let options = RunOptions {
        migrations_dir: Some(not_null_column_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_add_notes_owner.sql) failed to apply on top of the rows of the \
             earlier versions"
        ),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[0].contains("contains null values"),
        "the finding should carry Postgres's reason: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_deleted_enum_label() {
    let options = RunOptions {
        migrations_dir: Some(enum_labels_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 2 (0002_delete_published_notes.sql) changed the row count of table notes \
         from 3 to 2",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_reports_unfilled_table() {
    let options = RunOptions {
        migrations_dir: Some(unsatisfiable_check_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 2, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "cannot generate rows for table tickets at migration 1 (0001_create_tickets.sql), so \
             no later migration is checked against its data: CHECK constraint \
             tickets_code_check on column(s) code rejected a generated row"
        ),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[0].contains("`known_value` in migrations_stepwise/rows.rs"),
        "the finding should say where to add a value: {}",
        describe(&result)
    );
    assert_eq!(
        result.findings[1],
        "migration 3 (0003_delete_notes.sql) changed the row count of table notes from 3 to 0",
        "the check should go on with the other tables: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_reports_composite_foreign_key() {
    let options = RunOptions {
        migrations_dir: Some(composite_foreign_key_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 2, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "cannot generate rows for table order_lines at migration 1 (0001_create_orders.sql), so \
         no later migration is checked against its data: table order_lines has a foreign key of \
         several columns (order_lines_region_number_fkey), which the row generator does not \
         support yet. Add support for it to migrations_stepwise/rows.rs",
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.findings[1],
        "migration 2 (0002_delete_orders.sql) changed the row count of table orders from 3 to 0",
        "the check should go on with the other tables: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_follows_renamed_table() {
    let options = RunOptions {
        migrations_dir: Some(rename_table_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("2 migrations applied one at a time"),
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_rows_lost_in_rename() {
    let options = RunOptions {
        migrations_dir: Some(rename_table_lose_rows_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 2 (0002_rename_notes_lose_row.sql) changed the row count of table notes \
         (now memos) from 3 to 2",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_applies_lone_concurrent_index() {
    let options = RunOptions {
        migrations_dir: Some(concurrent_index_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_shows_concurrent_index_after_set_fails() {
    let options = RunOptions {
        migrations_dir: Some(concurrent_index_with_set_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_index_notes_title.sql) failed to apply on top of the rows of the \
             earlier versions"
        ),
        "{}",
        describe(&result)
    );
    assert!(
        result.findings[0].contains("cannot run inside a transaction block"),
        "the finding should carry Postgres's reason: {}",
        describe(&result)
    );
    assert!(
        !result.findings[0].contains(" at line "),
        "the finding should not end with the Postgres server's source line, which reads as a \
         line of the migration: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_other_schema() {
    let options = RunOptions {
        migrations_dir: Some(other_schema_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 2, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "migration 2 (0002_drop_side_data.sql) dropped table side.flags, which held 3 rows"
        ),
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.findings[1],
        "migration 2 (0002_drop_side_data.sql) changed the row count of table side.notes from \
         3 to 0",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_deleted_null_rows() {
    let options = RunOptions {
        migrations_dir: Some(delete_null_rows_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 2 (0002_set_note_not_null.sql) changed the row count of table notes from 4 \
         to 3",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_deleted_extreme_integers() {
    let options = RunOptions {
        migrations_dir: Some(delete_extreme_integers_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 1, "{}", describe(&result));
    assert_eq!(
        result.findings[0],
        "migration 2 (0002_delete_out_of_range.sql) changed the row count of table readings \
         from 3 to 1",
        "{}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_stepwise_flags_run_without_rows() {
    let options = RunOptions {
        migrations_dir: Some(unfillable_only_migrations_dir()),
        ..test_only()
    };
    let result = in_run(options, async |run| {
        migrations_stepwise::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(result.findings.len(), 2, "{}", describe(&result));
    assert!(
        result.findings[0].starts_with(
            "cannot generate rows for table shapes at migration 1 (0001_create_shapes.sql)"
        ),
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.findings[1],
        "no row was generated although 1 table exists (shapes), so no migration was checked \
         against data. The other findings say why each table stayed empty",
        "{}",
        describe(&result)
    );
}
