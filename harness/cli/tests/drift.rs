//! `harness drift` against a live database: a run's migrated database is clean (exit 0), a
//! manual change on it is an untracked change (exit 1). The changes tested are a column, index,
//! grant or ledger row, another schema, a policy or row-level security, a database grant or
//! owner, a role attribute or membership, and default privileges. They also include a disabled
//! trigger or foreign key enforcement, an invalid index, an UNLOGGED table and storage
//! parameters. An invalid or unreachable URL is a usage or environment
//! error (exit 2). The password in the URL never appears in the output.
//!
//! Needs Docker and the Postgres image (images/build.sh builds it).

use std::process::Output;

use std::path::Path;

use harness::deployment::{DATABASE, Deployment};
use harness::durability::Durability;
use harness::postgres::DataFolder;
use harness::run::{RunOptions, with_run};
use scenarios::fixtures::migrations_dir;
use scenarios::migration_files::read_migration_files;
use sqlx::{Connection, PgConnection};

/// Returns run options for the live database with test-only durability and the data folder in
/// memory, because no drift test crashes, stops or restarts Postgres.
fn test_only() -> RunOptions {
    RunOptions {
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    }
}

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
    let outputs = with_run(test_only(), async |run| {
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
    assert!(
        String::from_utf8_lossy(&clean.stdout).contains("\nno drift\n"),
        "the clean database should report no drift: {}",
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

/// The role that makes a manual change in [`drift_after_change`].
#[derive(Clone, Copy)]
enum Actor {
    /// lv_migrator, the owner of the database, its schema and tables.
    Migrator,
    /// The bootstrap superuser, for role attributes and memberships.
    Superuser,
}

/// Migrates a run's database, runs `statements` on it as `actor`, and returns the output of
/// `harness drift` against it and the auditor's password.
async fn drift_after_change(actor: Actor, statements: &'static str) -> (Output, String) {
    harness::logging::init(false);
    with_run(test_only(), async |run| {
        run.apply_migrations()
            .await
            .expect("migrations/ should apply to a fresh database");
        let deployment = run.deployment();
        let password = deployment.auditor.password.expose().to_owned();

        let credentials = match actor {
            Actor::Migrator => &deployment.migrator,
            Actor::Superuser => &deployment.superuser,
        };
        let mut connection = PgConnection::connect_with(&deployment.connect_options(credentials))
            .await
            .expect("the role that makes the change should connect");
        sqlx::raw_sql(statements)
            .execute(&mut connection)
            .await
            .expect("the manual change should apply");
        connection
            .close()
            .await
            .expect("the connection should close");

        let output = run_drift(auditor_url(deployment)).await;
        (output, password)
    })
    .await
    .expect("run should start and shut down")
}

/// Asserts that drift exited 1 and printed each of `changes` as an untracked change.
fn assert_untracked(output: &Output, password: &str, changes: &[&str]) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "drift should exit 1: {}",
        describe(output, password)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for change in changes {
        assert!(
            stdout.contains(&format!("untracked change: {change}\n")),
            "the output should contain `untracked change: {change}`: {}",
            describe(output, password)
        );
    }
    assert_password_absent(output, password);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_other_schema() {
    let (output, password) = drift_after_change(
        Actor::Migrator,
        "CREATE SCHEMA side;
         CREATE TABLE side.notes (id bigint PRIMARY KEY, body text);
         CREATE TABLE side.\"Odd Name\" (id bigint)",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "schema side exists in the live database but not in the replayed schema",
            "table side.notes exists in the live database but not in the replayed schema",
            "table side.\"Odd Name\" exists in the live database but not in the replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_policy_and_row_security() {
    let (output, password) = drift_after_change(
        Actor::Migrator,
        "ALTER TABLE videos ENABLE ROW LEVEL SECURITY;
         ALTER TABLE videos FORCE ROW LEVEL SECURITY;
         CREATE POLICY ready_only ON videos AS RESTRICTIVE FOR SELECT TO lv_app, lv_auditor
             USING (status = 'ready');
         ALTER TABLE users ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_row ON users FOR UPDATE
             USING (true) WITH CHECK (display_name <> '')",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "table videos: `row level security enabled, forced` exists in the live database \
             but not in the replayed schema",
            "table videos: `policy ready_only: restrictive for SELECT to lv_app, lv_auditor \
             using ((status = 'ready'::text))` exists in the live database but not in the \
             replayed schema",
            "table users: `row level security enabled` exists in the live database but not in \
             the replayed schema",
            "table users: `policy own_row: permissive for UPDATE to PUBLIC using (true) with \
             check ((display_name <> ''::text))` exists in the live database but not in the \
             replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_database_grants_and_owner() {
    let (output, password) = drift_after_change(
        Actor::Superuser,
        "GRANT CREATE, TEMPORARY ON DATABASE localizevideos TO lv_app;
         GRANT CONNECT ON DATABASE localizevideos TO PUBLIC;
         ALTER DATABASE localizevideos OWNER TO lv_auditor",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "current database: `owner lv_auditor` in the live database, but the replayed \
             schema has `owner lv_migrator`",
            "current database: `grant lv_app: CONNECT, CREATE, TEMPORARY` in the live \
             database, but the replayed schema has `grant lv_app: CONNECT`",
            "current database: `grant PUBLIC: CONNECT` exists in the live database but not in \
             the replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_role_attributes_and_members() {
    let (output, password) = drift_after_change(
        Actor::Superuser,
        "ALTER ROLE lv_app CREATEDB NOINHERIT CONNECTION LIMIT 5 VALID UNTIL '2999-01-01';
         ALTER ROLE lv_auditor BYPASSRLS;
         GRANT lv_migrator TO lv_app WITH ADMIN OPTION;
         CREATE ROLE \"Drift \"\"Ops\"\" Team\" NOLOGIN;
         GRANT SELECT ON videos TO \"Drift \"\"Ops\"\" Team\";
         CREATE ROLE U&\"two\\000Alines\" NOLOGIN;
         GRANT SELECT ON users TO U&\"two\\000Alines\"",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "role lv_app: `attribute createdb: true` in the live database, but the replayed \
             schema has `attribute createdb: false`",
            "role lv_app: `attribute inherit: false` in the live database, but the replayed \
             schema has `attribute inherit: true`",
            "role lv_app: `attribute connection limit: 5` in the live database, but the \
             replayed schema has `attribute connection limit: unlimited`",
            "role lv_app: `attribute valid until: set` in the live database, but the replayed \
             schema has `attribute valid until: not set`",
            "role lv_auditor: `attribute bypassrls: true` in the live database, but the \
             replayed schema has `attribute bypassrls: false`",
            "role lv_app: `member of lv_migrator with admin option` exists in the live \
             database but not in the replayed schema",
            "role lv_migrator: `has member lv_app with admin option` exists in the live \
             database but not in the replayed schema",
            "role \"Drift \"\"Ops\"\" Team\" exists in the live database but not in the \
             replayed schema",
            "table videos: `grant \"Drift \"\"Ops\"\" Team\": SELECT` exists in the live \
             database but not in the replayed schema",
            "role U&\"two\\000Alines\" exists in the live database but not in the replayed \
             schema",
            "table users: `grant U&\"two\\000Alines\": SELECT` exists in the live database but \
             not in the replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_default_privileges() {
    let (output, password) = drift_after_change(
        Actor::Migrator,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lv_app;
         ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "default privileges for role lv_migrator in schema public on tables exists in the \
             live database but not in the replayed schema: `grant lv_app: SELECT`",
            "default privileges for role lv_migrator on functions exists in the live database \
             but not in the replayed schema: `grant lv_migrator: EXECUTE`",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_disabled_triggers() {
    // Disabling the internal triggers of a foreign key needs a superuser in PostgreSQL 15.
    let (output, password) = drift_after_change(
        Actor::Superuser,
        "ALTER TABLE videos DISABLE TRIGGER ALL;
         CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql
             AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER users_keep BEFORE UPDATE ON users
             FOR EACH ROW EXECUTE FUNCTION keep_row();
         ALTER TABLE users DISABLE TRIGGER users_keep;
         CREATE TRIGGER users_replica BEFORE INSERT ON users
             FOR EACH ROW EXECUTE FUNCTION keep_row();
         ALTER TABLE users ENABLE REPLICA TRIGGER users_replica",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "table videos: `constraint videos_owner_id_fkey foreign key (owner_id): FOREIGN KEY \
             (owner_id) REFERENCES users(id) ON DELETE RESTRICT (enforcement triggers disabled \
             on videos)` in the live database, but the replayed schema has `constraint \
             videos_owner_id_fkey foreign key (owner_id): FOREIGN KEY (owner_id) REFERENCES \
             users(id) ON DELETE RESTRICT`",
            "table localizations: `constraint localizations_video_id_fkey foreign key \
             (video_id): FOREIGN KEY (video_id) REFERENCES videos(id) ON DELETE CASCADE \
             (enforcement triggers disabled on videos)` in the live database, but the replayed \
             schema has `constraint localizations_video_id_fkey foreign key (video_id): FOREIGN \
             KEY (video_id) REFERENCES videos(id) ON DELETE CASCADE`",
            "table users: `trigger users_keep: CREATE TRIGGER users_keep BEFORE UPDATE ON \
             public.users FOR EACH ROW EXECUTE FUNCTION keep_row() (disabled)` exists in the \
             live database but not in the replayed schema",
            "table users: `trigger users_replica: CREATE TRIGGER users_replica BEFORE INSERT ON \
             public.users FOR EACH ROW EXECUTE FUNCTION keep_row() (enabled replica)` exists in \
             the live database but not in the replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_invalid_index() {
    // A failed CREATE INDEX CONCURRENTLY leaves indisvalid = false. CONCURRENTLY cannot run in
    // the implicit transaction of a multi-statement query, so the test sets the same flag on an
    // index that both sides have, which needs a superuser.
    let (output, password) = drift_after_change(
        Actor::Superuser,
        "UPDATE pg_index SET indisvalid = false
         WHERE indexrelid = 'public.videos_created_at_id_idx'::regclass",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "table videos: `index videos_created_at_id_idx: CREATE INDEX videos_created_at_id_idx \
           ON public.videos USING btree (created_at, id) (invalid)` in the live database, but \
           the replayed schema has `index videos_created_at_id_idx: CREATE INDEX \
           videos_created_at_id_idx ON public.videos USING btree (created_at, id)`",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_unlogged_table() {
    let (output, password) =
        drift_after_change(Actor::Migrator, "ALTER TABLE audit_log SET UNLOGGED").await;

    assert_untracked(
        &output,
        &password,
        &[
            "table audit_log: `persistence unlogged` exists in the live database but not in the \
           replayed schema",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_flags_storage_options() {
    let (output, password) = drift_after_change(
        Actor::Migrator,
        "ALTER TABLE videos SET (autovacuum_enabled = false, fillfactor = 70);
         ALTER INDEX users_pkey SET (fillfactor = 50)",
    )
    .await;

    assert_untracked(
        &output,
        &password,
        &[
            "table videos: `option autovacuum_enabled = false` exists in the live database but \
             not in the replayed schema",
            "table videos: `option fillfactor = 70` exists in the live database but not in the \
             replayed schema",
            "table users: `index users_pkey: CREATE UNIQUE INDEX users_pkey ON public.users \
             USING btree (id) WITH (fillfactor='50')` in the live database, but the replayed \
             schema has `index users_pkey: CREATE UNIQUE INDEX users_pkey ON public.users USING \
             btree (id)`",
        ],
    );
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
async fn drift_missing_migrations_folder_names_flag() {
    let output = run_drift_with(
        "postgres://lv_auditor@127.0.0.1:1/localizevideos".to_owned(),
        &["--migrations", "/nonexistent/migrations"],
    )
    .await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output, "-"));
    assert!(
        stderr.contains("--migrations /nonexistent/migrations does not exist"),
        "{}",
        describe(&output, "-")
    );
    assert!(
        !stderr.contains("every check"),
        "drift runs no checks, so the message should not mention them: {stderr}"
    );
}

#[tokio::test]
async fn drift_invalid_sslmode_has_one_prefix() {
    let output =
        run_drift("postgres://lv_auditor@127.0.0.1:1/localizevideos?sslmode=sometimes".to_owned())
            .await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output, "-"));
    assert_eq!(
        stderr.matches("error with configuration").count(),
        1,
        "{}",
        describe(&output, "-")
    );
    assert!(
        stderr.contains("\"sometimes\""),
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
        String::from_utf8_lossy(&output.stderr).contains("connecting to database localizevideos"),
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
    let outputs = with_run(test_only(), async |run| {
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
