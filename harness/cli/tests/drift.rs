//! `harness drift` against a live database: a run's migrated database is clean (exit 0), a
//! manual ALTER on it is an untracked change (exit 1), and an invalid or unreachable URL is a
//! usage or environment error (exit 2). The password in the URL never appears in the output.
//!
//! Needs Docker and the Postgres image (images/build.sh builds it).

use std::process::Output;

use std::path::Path;

use harness::deployment::{DATABASE, Deployment};
use harness::run::{RunOptions, with_run};
use scenarios::fixtures::migrations_dir;
use scenarios::migration_files::read_migration_files;
use sqlx::{Connection, PgConnection};

/// Runs `harness drift --database-url url` with extra arguments and returns its output.
async fn run_drift_with(url: String, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["drift", "--database-url", &url])
        .args(extra)
        // The reaper would prune this machine's app images; the test keeps them.
        .env("HARNESS_KEEP_APP_IMAGES", "1000")
        .output()
        .await
        .expect("harness should start")
}

/// Runs `harness drift --database-url url` and returns its output.
async fn run_drift(url: String) -> Output {
    run_drift_with(url, &[]).await
}

/// Returns the URL of the run's database for the read-only auditor role.
fn auditor_url(deployment: &Deployment) -> String {
    format!(
        "postgres://{}:{}@{}:{}/{DATABASE}",
        deployment.auditor.role,
        deployment.auditor.password.expose(),
        deployment.postgres_host,
        deployment.postgres_port
    )
}

/// Describes an output for an assertion message, with the password removed.
fn describe(output: &Output, password: &str) -> String {
    let text = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.replace(password, "[password]")
}

fn assert_password_absent(output: &Output, password: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stdout.contains(password),
        "the password should not appear on stdout: {}",
        describe(output, password)
    );
    assert!(
        !stderr.contains(password),
        "the password should not appear on stderr: {}",
        describe(output, password)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_manual_alter() {
    harness::logging::init(false);
    let outputs = with_run(RunOptions::default(), async |run| {
        run.apply_migrations()
            .await
            .expect("migrations/ should apply to a fresh database");
        let deployment = run.deployment();
        let password = deployment.auditor.password.expose().to_owned();

        let clean = run_drift(auditor_url(deployment)).await;

        let options = deployment.connect_options(&deployment.migrator);
        let mut migrator = PgConnection::connect_with(&options)
            .await
            .expect("the migrator role should connect");
        // Four untracked changes: a column, an index, a grant and the newest ledger row.
        sqlx::raw_sql(
            "ALTER TABLE videos ADD COLUMN drift_note text;
             DROP INDEX videos_created_at_id_idx;
             GRANT UPDATE ON audit_log TO lv_app;
             DELETE FROM _sqlx_migrations
             WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        )
        .execute(&mut migrator)
        .await
        .expect("the migrator role should alter its tables");
        migrator.close().await.expect("the connection should close");

        let drifted = run_drift(auditor_url(deployment)).await;
        (clean, drifted, password)
    })
    .await
    .expect("run should start and shut down");
    let (clean, drifted, password) = outputs;

    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        describe(&clean, &password)
    );
    assert_password_absent(&clean, &password);

    assert_eq!(
        drifted.status.code(),
        Some(1),
        "{}",
        describe(&drifted, &password)
    );
    let stdout = String::from_utf8_lossy(&drifted.stdout);
    assert!(
        stdout.contains(
            "untracked change: table videos: `column drift_note text` exists in the live \
             database but not in the replayed schema"
        ),
        "the output should name the added column: {}",
        describe(&drifted, &password)
    );
    assert!(
        stdout.contains(
            "untracked change: table videos: `index videos_created_at_id_idx: CREATE INDEX"
        ),
        "the output should name the dropped index: {}",
        describe(&drifted, &password)
    );
    assert!(
        stdout.contains(
            "untracked change: table audit_log: `grant lv_app: INSERT, SELECT, UPDATE` in the \
             live database, but the replayed schema has `grant lv_app: INSERT, SELECT`"
        ),
        "the output should name the added grant: {}",
        describe(&drifted, &password)
    );
    let newest = read_migration_files(&migrations_dir())
        .expect("migrations/ should be readable")
        .pop()
        .expect("migrations/ should contain a migration");
    assert!(
        stdout.contains(&format!(
            "untracked change: _sqlx_migrations: migration {} ({}) is not applied to the live \
             database",
            newest.version, newest.file_name
        )),
        "the output should name the deleted ledger row: {}",
        describe(&drifted, &password)
    );
    assert!(
        stdout.contains("4 untracked changes"),
        "the output should count the changes: {}",
        describe(&drifted, &password)
    );
    assert_password_absent(&drifted, &password);
}

#[tokio::test]
async fn drift_invalid_url_is_usage_error() {
    let output = run_drift("not a url".to_owned()).await;

    assert_eq!(output.status.code(), Some(2), "{}", describe(&output, "-"));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("invalid --database-url"),
        "{}",
        describe(&output, "-")
    );
}

#[tokio::test]
async fn drift_unreachable_database_hides_password() {
    // Port 1 on loopback has no listener, so the connection is refused at once.
    let password = "drift-test-password-4d2c9e";
    let output = run_drift(format!(
        "postgres://lv_auditor:{password}@127.0.0.1:1/localizevideos"
    ))
    .await;

    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&output, password)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("connecting on database localizevideos"),
        "{}",
        describe(&output, password)
    );
    assert_password_absent(&output, password);
}

/// Applies the Prisma fixture the way `prisma migrate deploy` records it: each migration.sql
/// runs, and `_prisma_migrations` gets a finished row with the file's hex SHA-256. The table's
/// definition is the one prisma-engines documents for PostgreSQL.
async fn apply_like_prisma(connection: &mut PgConnection, dir: &Path) {
    sqlx::raw_sql(
        "CREATE TABLE _prisma_migrations (
             id varchar(36) PRIMARY KEY NOT NULL,
             checksum varchar(64) NOT NULL,
             finished_at timestamptz,
             migration_name varchar(255) NOT NULL,
             logs text,
             rolled_back_at timestamptz,
             started_at timestamptz NOT NULL DEFAULT now(),
             applied_steps_count integer NOT NULL DEFAULT 0
         );
         GRANT SELECT ON _prisma_migrations TO lv_auditor",
    )
    .execute(&mut *connection)
    .await
    .expect("the ledger table should be created");

    let mut folders: Vec<String> = std::fs::read_dir(dir)
        .expect("the Prisma fixture should be readable")
        .map(|entry| entry.expect("entry should be readable").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| dir.join(name).join("migration.sql").is_file())
        .collect();
    folders.sort();
    for folder in folders {
        let sql = std::fs::read_to_string(dir.join(&folder).join("migration.sql"))
            .expect("migration.sql should be readable");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *connection)
            .await
            .expect("the Prisma migration should apply");
        sqlx::query(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name,
                                             applied_steps_count)
             VALUES (gen_random_uuid()::text, encode(sha256(convert_to($1, 'UTF8')), 'hex'),
                     now(), $2, 1)",
        )
        .bind(&sql)
        .bind(&folder)
        .execute(&mut *connection)
        .await
        .expect("the ledger row should be inserted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reads_prisma_ledger() {
    harness::logging::init(false);
    let prisma_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/fixtures/prisma-migrations");
    let prisma_arg = prisma_dir.to_string_lossy().into_owned();
    let outputs = with_run(RunOptions::default(), async |run| {
        let deployment = run.deployment();
        let password = deployment.auditor.password.expose().to_owned();
        let options = deployment.connect_options(&deployment.migrator);
        let mut migrator = PgConnection::connect_with(&options)
            .await
            .expect("the migrator role should connect");
        apply_like_prisma(&mut migrator, &prisma_dir).await;

        let clean = run_drift_with(auditor_url(deployment), &["--migrations", &prisma_arg]).await;

        sqlx::raw_sql(
            "UPDATE _prisma_migrations SET checksum = repeat('0', 64)
             WHERE migration_name = '20240102000000_add_notes_pinned'",
        )
        .execute(&mut migrator)
        .await
        .expect("the migrator role should edit the ledger");
        migrator.close().await.expect("the connection should close");

        let drifted = run_drift_with(auditor_url(deployment), &["--migrations", &prisma_arg]).await;
        (clean, drifted, password)
    })
    .await
    .expect("run should start and shut down");
    let (clean, drifted, password) = outputs;

    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        describe(&clean, &password)
    );
    assert_eq!(
        drifted.status.code(),
        Some(1),
        "{}",
        describe(&drifted, &password)
    );
    let stdout = String::from_utf8_lossy(&drifted.stdout);
    assert!(
        stdout.contains(
            "untracked change: _prisma_migrations: migration 20240102000000 \
             (20240102000000_add_notes_pinned/migration.sql) was edited after it was applied"
        ),
        "the output should name the edited Prisma migration: {}",
        describe(&drifted, &password)
    );
    assert_password_absent(&drifted, &password);
}
