//! Self-test of the ledger's checker with real rows: after a load through the app, the
//! superuser deletes, copies and adds videos behind the app's back, and both read-backs must
//! report exactly those changes.

mod common;

use std::time::Duration;

use common::{in_run, step, test_only};
use harness::ledger::{Ledger, Outcome, Verification};
use harness::load::{self, Load, LoadOptions, LoadTarget};

/// Name the self-test's requests are recorded under.
const CHECK: &str = "ledger.self_test";

/// Title of the row the superuser adds, which no worker attempted.
const NEVER_ATTEMPTED: &str = "ledger-never-attempted";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_flags_rows_changed_behind_app() {
    let (acknowledged, verification) = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        let deployment = run.deployment().clone();
        let owner = load::create_owner(&deployment, CHECK)
            .await
            .expect("creating the owner should succeed");

        let target = LoadTarget::new(&deployment.app_url);
        let load = Load::start(
            target,
            owner,
            Ledger::new(),
            deployment.responses.clone(),
            LoadOptions::new(CHECK),
        )
        .expect("the load should start");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ledger = load.stop().await;
        let mut acknowledged: Vec<String> = ledger
            .attempts()
            .into_iter()
            .filter(|attempt| attempt.outcome == Outcome::Acknowledged)
            .map(|attempt| attempt.key)
            .collect();
        acknowledged.sort();
        assert!(
            acknowledged.len() >= 3,
            "the load should have at least 3 acknowledged writes, got {}",
            acknowledged.len()
        );

        let pool = deployment
            .pool(&deployment.superuser)
            .await
            .expect("connecting as the superuser should succeed");
        sqlx::query("DELETE FROM videos WHERE title = ANY($1)")
            .bind(&acknowledged[..2])
            .execute(&pool)
            .await
            .expect("deleting two acknowledged rows should succeed");
        for title in [acknowledged[2].as_str(), NEVER_ATTEMPTED] {
            sqlx::query(
                "INSERT INTO videos (owner_id, title, source_language, duration_seconds) \
                 VALUES ($1, $2, 'en', 1)",
            )
            .bind(owner)
            .bind(title)
            .execute(&pool)
            .await
            .expect("inserting a row should succeed");
        }
        pool.close().await;

        let verification = Verification::read_back(run.deployment(), CHECK, &ledger, owner)
            .await
            .expect("reading back should succeed");
        (acknowledged, verification)
    })
    .await;

    let lost = acknowledged[..2].to_vec();
    let duplicated = vec![(acknowledged[2].clone(), 2)];
    let unexpected = vec![NEVER_ATTEMPTED.to_owned()];
    let api = verification.api.as_ref().expect("the API was read back");
    assert_eq!(verification.database.lost, lost, "database: lost");
    assert_eq!(api.lost, lost, "API: lost");
    assert_eq!(
        verification.database.duplicated, duplicated,
        "database: duplicated"
    );
    assert_eq!(api.duplicated, duplicated, "API: duplicated");
    assert_eq!(
        verification.database.unexpected, unexpected,
        "database: unexpected"
    );
    assert_eq!(api.unexpected, unexpected, "API: unexpected");
    assert_eq!(
        verification.findings().len(),
        6,
        "{:?}",
        verification.findings()
    );
}
