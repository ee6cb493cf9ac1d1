//! `crud.smoke` against the app, and its self-test with an app built with the fail point that
//! ignores a video's new title.

mod common;

use common::{describe, faulty_app, in_run, step, test_only};
use harness::check::Status;
use harness::durability::Durability;
use scenarios::crud_smoke;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_smoke_passes() {
    let result = in_run(test_only(), async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(run.start_app().await, "starting the app");
        crud_smoke::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Pass, "{}", describe(&result));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_smoke_flags_ignored_title_update() {
    let options = faulty_app(Durability::TestOnly, "video.update.ignore_title=return");
    let result = in_run(options, async |run| {
        step(run.apply_migrations().await, "applying the migrations");
        step(
            run.start_app().await,
            "starting the app built with failpoints",
        );
        crud_smoke::run(run.deployment()).await
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert!(
        result.message.contains("title"),
        "the message should name the field `title`: {}",
        describe(&result)
    );
}
