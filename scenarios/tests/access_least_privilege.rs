//! `access.least_privilege` against the bootstrapped and migrated database, and its self-tests:
//! a migration that grants the app role CREATE on the schema, a migration that adds SECURITY
//! DEFINER functions, and grants a superuser adds after the migrations.

mod common;

use std::path::PathBuf;

use common::{describe, in_run, step, test_only};
use harness::check::{CheckResult, Status};
use harness::deployment::DATABASE;
use harness::run::{Run, RunOptions};
use scenarios::access_least_privilege;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

/// Runs `statements` as the superuser on `database`, one at a time.
async fn as_superuser(run: &Run, database: &str, statements: &[&str]) {
    let deployment = run.deployment();
    let options = deployment
        .connect_options_to(&deployment.superuser, database)
        .disable_statement_logging();
    let mut connection = match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "{}",
            harness::redact::redact(&format!("connecting as the superuser failed: {error}"))
        ),
    };
    for statement in statements {
        if let Err(error) = sqlx::raw_sql(AssertSqlSafe(*statement))
            .execute(&mut connection)
            .await
        {
            panic!(
                "{}",
                harness::redact::redact(&format!(
                    "setting up the fault `{statement}` failed: {error}"
                ))
            );
        }
    }
    connection.close().await.ok();
}

/// Copies the workspace's migrations into a fresh folder and adds `extra` as the next version.
fn migrations_with(name: &str, extra: &str) -> PathBuf {
    let source = scenarios::fixtures::migrations_dir();
    let target = std::env::temp_dir().join(format!("lv-migrations-{name}-{}", std::process::id()));
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .expect("an old copy of the migrations should be removable");
    }
    std::fs::create_dir_all(&target).expect("the migrations copy should be created");
    for entry in std::fs::read_dir(&source).expect("migrations/ should be readable") {
        let path = entry.expect("migrations/ should be listable").path();
        let file_name = path.file_name().expect("a migration has a file name");
        std::fs::copy(&path, target.join(file_name)).expect("a migration should be copied");
    }
    std::fs::write(target.join("0099_faulty_grant.sql"), extra)
        .expect("the faulty migration should be written");
    target
}

fn assert_finding(result: &CheckResult, expected: &str) {
    assert!(
        result
            .findings
            .iter()
            .any(|finding| finding.contains(expected)),
        "a finding should contain {expected:?}: {}",
        describe(result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_passes() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        access_least_privilege::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_flags_create_on_schema() {
    let migrations = migrations_with(
        "create-on-schema",
        "-- Faulty on purpose: gives the app role DDL in schema public.\n\
         GRANT CREATE ON SCHEMA public TO lv_app;\n",
    );
    let options = RunOptions {
        migrations_dir: Some(migrations.clone()),
        ..test_only()
    };

    let result = in_run(options, async |run| {
        step(
            run.apply_migrations().await,
            "applying the faulty migrations",
        );
        access_least_privilege::run(run.deployment()).await
    })
    .await;
    std::fs::remove_dir_all(&migrations).ok();

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .starts_with("role lv_app has CREATE on schema public"),
        "the message should name the privilege: {}",
        describe(&result)
    );
    assert!(
        result
            .message
            .contains("`REVOKE CREATE ON SCHEMA public FROM lv_app`"),
        "the message should give the REVOKE: {}",
        describe(&result)
    );
    assert_finding(&result, "role lv_app could create a table in schema public");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_flags_definer_functions() {
    let migrations = migrations_with(
        "definer-functions",
        "-- Faulty on purpose: PUBLIC may execute new functions, and these run as their owner.\n\
         CREATE FUNCTION wipe_audit() RETURNS void LANGUAGE plpgsql SECURITY DEFINER\n\
         AS $$ BEGIN TRUNCATE audit_log; END $$;\n\
         CREATE FUNCTION run_sql(q text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER\n\
         AS $$ BEGIN EXECUTE q; END $$;\n\
         -- Runs with the caller's privileges, so the check must leave it alone.\n\
         CREATE FUNCTION count_audit() RETURNS bigint LANGUAGE sql\n\
         AS $$ SELECT count(*) FROM audit_log $$;\n",
    );
    let options = RunOptions {
        migrations_dir: Some(migrations.clone()),
        ..test_only()
    };

    let result = in_run(options, async |run| {
        step(
            run.apply_migrations().await,
            "applying the faulty migrations",
        );
        access_least_privilege::run(run.deployment()).await
    })
    .await;
    std::fs::remove_dir_all(&migrations).ok();

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result
            .message
            .contains("SECURITY DEFINER function public.run_sql(text)"),
        "the message should name the function with its signature: {}",
        describe(&result)
    );
    assert!(
        result
            .message
            .contains("`REVOKE EXECUTE ON FUNCTION public.run_sql(text) FROM PUBLIC`"),
        "the message should give the REVOKE: {}",
        describe(&result)
    );
    assert_finding(
        &result,
        "role lv_app can execute SECURITY DEFINER function public.run_sql(text) in database \
         localizevideos, which runs with the privileges of its owner lv_migrator; revoke it \
         with `REVOKE EXECUTE ON FUNCTION public.run_sql(text) FROM PUBLIC`, or make it run \
         with the caller's privileges with `ALTER FUNCTION public.run_sql(text) SECURITY \
         INVOKER`",
    );
    assert_finding(
        &result,
        "`REVOKE EXECUTE ON FUNCTION public.wipe_audit() FROM PUBLIC`",
    );
    assert!(
        !result
            .findings
            .iter()
            .any(|finding| finding.contains("count_audit")),
        "a SECURITY INVOKER function should not be flagged: {}",
        describe(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_flags_each_grant() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        as_superuser(
            run,
            DATABASE,
            &[
                "ALTER ROLE lv_app CREATEDB",
                "GRANT pg_read_server_files TO lv_app",
                "GRANT TRUNCATE ON videos TO lv_app",
                "GRANT SELECT ON users TO PUBLIC",
                "ALTER TABLE audit_log OWNER TO lv_app",
                "GRANT TEMPORARY ON DATABASE localizevideos TO lv_app",
                "GRANT CONNECT ON DATABASE postgres TO PUBLIC",
                "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text) TO lv_app",
                "ALTER DEFAULT PRIVILEGES FOR ROLE lv_migrator IN SCHEMA public GRANT TRIGGER ON \
                 TABLES TO lv_app",
            ],
        )
        .await;
        access_least_privilege::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    let expected = [
        "role lv_app has CREATEDB; remove it with `ALTER ROLE lv_app NOCREATEDB`",
        "role lv_app is a member of role pg_read_server_files (which grants \
         pg_read_server_files); remove it with `REVOKE pg_read_server_files FROM lv_app`",
        "role lv_app has TRUNCATE on public.videos in database localizevideos; revoke it with \
         `REVOKE TRUNCATE ON TABLE public.videos FROM lv_app`",
        "PUBLIC has SELECT on public.users, so role lv_app has it too in database \
         localizevideos; revoke it with `REVOKE SELECT ON TABLE public.users FROM PUBLIC`",
        "role lv_app owns table audit_log in database localizevideos",
        "`REASSIGN OWNED BY lv_app TO lv_migrator`",
        "role lv_app has TEMPORARY on database localizevideos; revoke it with `REVOKE \
         TEMPORARY ON DATABASE localizevideos FROM lv_app`",
        "PUBLIC has CONNECT on database postgres, so role lv_app has it too (not the app \
         database); revoke it with `REVOKE CONNECT ON DATABASE postgres FROM PUBLIC`",
        "role lv_app can execute pg_ls_dir(text), which reads the server's files; revoke it \
         with `REVOKE EXECUTE ON FUNCTION pg_ls_dir(text) FROM lv_app`",
        "default privileges of role lv_migrator IN SCHEMA public in database localizevideos \
         give lv_app TRIGGER on every new table; revoke it with `ALTER DEFAULT PRIVILEGES FOR \
         ROLE lv_migrator IN SCHEMA public REVOKE TRIGGER ON TABLES FROM lv_app`",
        "role lv_app could create a temporary table",
        "role lv_app could connect to database postgres",
    ];
    for finding in expected {
        assert_finding(&result, finding);
    }
}
