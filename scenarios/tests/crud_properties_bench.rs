//! Benchmarks of `crud.properties`, ignored in normal runs because they measure time. Run them
//! one at a time and record the printed numbers in docs/benchmarks.md:
//!
//! ```sh
//! cargo nextest run -p scenarios --test crud_properties_bench --run-ignored only --no-capture
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{describe, in_run, step};
use harness::check::Status;
use harness::reset::{ResetStrategy, TableReset};
use harness::run::RunOptions;
use harness::template::TemplateDatabase;
use scenarios::crud_properties::{self, Options, ReplayCommand};
use sqlx::PgPool;

/// Resets measured per strategy.
const RESETS: usize = 200;
/// Cases of the speed benchmark of the whole check.
const BENCH_CASES: u32 = 256;

/// Rows written before each reset: a few users, videos, localizations and audit rows, as a
/// case of up to 40 calls leaves them.
const FILL: &str = "
INSERT INTO users (email, display_name, password_hash)
  SELECT 'user' || i || '@example.test', 'User', '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA'
  FROM generate_series(1, 5) i;
INSERT INTO videos (owner_id, title, source_language, duration_seconds)
  SELECT id, 'Video', 'en', 60 FROM users;
INSERT INTO localizations (video_id, target_language, kind)
  SELECT id, 'de', 'subtitles' FROM videos;
INSERT INTO audit_log (actor, action, entity_type, entity_id)
  SELECT 'bench', 'create', 'user', id FROM users;
";

/// Checks that a reset left every table empty and the audit identity at its start.
async fn assert_empty(pool: &PgPool, strategy: ResetStrategy) {
    let (rows,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM videos)
              + (SELECT count(*) FROM localizations) + (SELECT count(*) FROM audit_log)",
    )
    .fetch_one(pool)
    .await
    .expect("the clone should be readable as lv_migrator");
    assert_eq!(rows, 0, "{strategy} should leave every table empty");
    let (last_value, is_called): (i64, bool) =
        sqlx::query_as("SELECT last_value, is_called FROM audit_log_id_seq")
            .fetch_one(pool)
            .await
            .expect("the audit sequence should be readable");
    assert!(
        last_value == 1 && !is_called,
        "{strategy} should restart the audit identity: last_value {last_value}, is_called {is_called}"
    );
}

fn summary(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: measures time; run explicitly"]
async fn reset_strategies() {
    in_run(RunOptions::default(), async |run| {
        let deployment = run.deployment().clone();
        let template = step(
            TemplateDatabase::create(&deployment).await,
            "building the template",
        );
        let clone = step(
            template.clone_database(&deployment, "bench").await,
            "cloning the template",
        );
        let migrator = deployment
            .pool_on(&deployment.migrator, clone.name())
            .await
            .expect("lv_migrator should connect to the clone");

        println!("strategy | round trips | median ms | min ms | max ms ({RESETS} resets)");
        for strategy in ResetStrategy::ALL {
            let mut reset = step(
                TableReset::connect(&deployment, clone.name(), strategy).await,
                "preparing the reset",
            );
            let mut times = Vec::with_capacity(RESETS);
            for _ in 0..RESETS {
                sqlx::raw_sql(FILL)
                    .execute(&migrator)
                    .await
                    .expect("rows should insert as lv_migrator");
                times.push(step(reset.reset().await, "resetting"));
                assert_empty(&migrator, strategy).await;
            }
            let (median, min, max) = summary(&mut times);
            println!(
                "{strategy} | {} | {median:.2} | {min:.2} | {max:.2}",
                reset.round_trips().len()
            );
            reset.close().await;
        }

        migrator.close().await;
        step(clone.drop(&deployment).await, "dropping the clone");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: measures time; run explicitly"]
async fn crud_properties_256_cases() {
    let mut options = Options::from_env(
        BENCH_CASES,
        ReplayCommand::Test {
            binary: "crud_properties_bench".to_owned(),
            test: "crud_properties_256_cases".to_owned(),
        },
    )
    .unwrap_or_else(|message| panic!("{message}"));
    options.concurrency = false;

    let started = Instant::now();
    let report = in_run(RunOptions::default(), async |run| {
        crud_properties::run_on_clone(run, &options).await
    })
    .await;

    println!(
        "{} cases: check {:.1} s, with container start and stop {:.1} s; {}",
        options.cases,
        report.result.duration_ms as f64 / 1000.0,
        started.elapsed().as_secs_f64(),
        report.result.message
    );
    assert_eq!(
        report.result.status,
        Status::Pass,
        "{}",
        describe(&report.result)
    );
}
