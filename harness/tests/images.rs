//! Image cleanup against the real Docker engine: the reaper removes the untagged images of dead
//! runs, a cancelled app image build leaves no untagged image, and the pruning of app images
//! keeps the newest and the ones in use.
//!
//! The images are tagged in test repositories, so that no test touches the real
//! `localizevideos/app` images. Images labelled with a dead run are imported from a tar file in
//! one step: a build would show intermediate images and containers with those labels, which a
//! reaper running in parallel (another test, another harness) removes mid-build.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use harness::app_image::{self, build_image};
use harness::cleanup::{ResourceKind, list_labelled};
use harness::config::{Config, ImageRef};
use harness::gc::{GcMode, collect_garbage};
use harness::image_prune::prune_images;
use harness::images::{self, BaseImage, image_exists};
use harness::labels::{self, RunId};
use harness::owner::{self, Owner};
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::ContainerCreateBody;
use testcontainers::bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, RemoveContainerOptions, RemoveImageOptions,
};

/// Repository of the images these tests build.
const TEST_REPOSITORY: &str = "localizevideos/harness-test";
/// Deadline for a cancelled build to be seen starting.
const BUILD_START_TIMEOUT: Duration = Duration::from_secs(120);

/// Connects to Docker and makes sure the runtime image exists.
async fn setup() -> (Docker, ImageRef) {
    harness::logging::init(true);
    let docker = harness::docker::connect()
        .await
        .expect("Docker should be reachable for image tests");
    let config = Config::from_env().expect("the harness settings should be valid");
    images::ensure_base_image(&docker, &config, BaseImage::Runtime)
        .await
        .expect("the runtime image should exist or be built");
    (docker, config.runtime_image)
}

fn test_image(repository: &str, tag: &str) -> ImageRef {
    ImageRef {
        name: repository.to_owned(),
        tag: tag.to_owned(),
    }
}

/// Returns the labels of a run whose owner has exited.
fn dead_run_labels(run_id: &RunId) -> HashMap<String, String> {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("`true` should start");
    let pid = child.id();
    child.wait().expect("`true` should exit");
    let owner = Owner {
        pid,
        start_ticks: None,
        host: owner::hostname(),
    };
    labels::run_labels(run_id, &owner)
}

/// Imports `image` from a tar file with one file of `content`, with `labels`, and returns its id.
async fn import_image(
    docker: &Docker,
    image: &ImageRef,
    labels: &HashMap<String, String>,
    content: &[u8],
) -> String {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "content", content)
        .expect("the tar file should be written");
    let tarball = archive
        .into_inner()
        .expect("the tar file should be complete");

    let mut label_pairs: Vec<_> = labels.iter().collect();
    label_pairs.sort();
    let label_line: String = label_pairs
        .iter()
        .map(|(key, value)| format!(" {key}=\"{value}\""))
        .collect();
    let options = CreateImageOptions {
        from_src: Some("-".to_owned()),
        repo: Some(image.name.clone()),
        tag: Some(image.tag.clone()),
        changes: vec![format!("LABEL{label_line}")],
        ..Default::default()
    };
    let body = testcontainers::bollard::body_full(tarball.into());
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        let info = item.expect("importing the image should work");
        assert!(info.error_detail.is_none(), "import failed: {info:?}");
    }
    image_id(docker, image).await
}

/// Removes an image by reference or id if it exists; a cleanup step that must not hide the
/// test's own failure.
async fn remove_image_quietly(docker: &Docker, reference: &str) {
    let options = RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker.remove_image(reference, Some(options), None).await;
}

async fn image_id(docker: &Docker, image: &ImageRef) -> String {
    docker
        .inspect_image(&image.to_string())
        .await
        .expect("the image should exist")
        .id
        .expect("an image has an id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_untagged_image_of_dead_run() {
    let (docker, _) = setup().await;
    let run_id = RunId::generate();
    let labels = dead_run_labels(&run_id);
    let image = test_image(TEST_REPOSITORY, run_id.as_str());

    // A second image under the same tag leaves the first one untagged, as an interrupted build
    // leaves its last committed step.
    let untagged = import_image(&docker, &image, &labels, b"first").await;
    let tagged = import_image(&docker, &image, &labels, b"second").await;
    assert_ne!(
        untagged, tagged,
        "the second import should make a new image"
    );

    let listed = list_labelled(&docker, labels::run_filter(&run_id))
        .await
        .expect("listing the run's resources should work");
    let report = collect_garbage(&docker, GcMode::DeadRuns).await;
    let untagged_left = docker.inspect_image(&untagged).await.is_ok();
    let tagged_left = image_exists(&docker, &image)
        .await
        .expect("inspecting the tagged image should work");
    remove_image_quietly(&docker, &image.to_string()).await;
    remove_image_quietly(&docker, &untagged).await;

    let listed_ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        listed_ids,
        [untagged.as_str()],
        "the run's untagged image, and nothing else, should be listed"
    );
    let report = report.expect("gc should succeed");
    let removed = report
        .removed
        .iter()
        .find(|r| r.kind == ResourceKind::Image && r.run_id == run_id.as_str());
    let removed = removed.unwrap_or_else(|| {
        panic!(
            "gc should report the untagged image of {run_id}, removed: {:?}",
            report.removed
        )
    });
    assert!(
        removed.size.is_some_and(|size| size > 0),
        "the removal should have a size: {removed:?}"
    );
    assert!(!untagged_left, "the untagged image should be gone");
    assert!(tagged_left, "the tagged image should stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_build_leaves_no_untagged_image() {
    let (docker, runtime) = setup().await;
    let run_id = RunId::generate();
    let labels = labels::run_labels(&run_id, &Owner::current());
    let image = test_image(TEST_REPOSITORY, run_id.as_str());
    // A large file makes the COPY step last long enough to cancel the build during it.
    let binary = vec![0u8; 100 * 1024 * 1024];

    // Cancel the build once Docker has created the first labelled container or image of it.
    let mut build = Box::pin(build_image(&docker, &image, &runtime, &binary, &labels));
    let started = Instant::now();
    let cancelled_mid_build = loop {
        tokio::select! {
            result = &mut build => {
                result.expect("the build should succeed");
                break false;
            }
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                let present = list_labelled(&docker, labels::run_filter(&run_id))
                    .await
                    .expect("listing the run's resources should work");
                if !present.is_empty() {
                    break true;
                }
                assert!(
                    started.elapsed() < BUILD_START_TIMEOUT,
                    "the build showed no labelled container within {BUILD_START_TIMEOUT:?}"
                );
            }
        }
    };
    drop(build);

    let ended = app_image::wait_for_builds(Duration::from_secs(120)).await;
    let left = list_labelled(&docker, labels::run_filter(&run_id))
        .await
        .expect("listing the run's resources should work");
    let built = image_exists(&docker, &image)
        .await
        .expect("inspecting the image should work");
    remove_image_quietly(&docker, &image.to_string()).await;
    for resource in &left {
        remove_image_quietly(&docker, &resource.id).await;
    }

    assert!(
        cancelled_mid_build,
        "the build ended before the test saw a labelled container, so nothing was cancelled"
    );
    assert!(ended, "the cancelled build should end");
    assert!(built, "the cancelled build should finish and tag {image}");
    let names: Vec<&str> = left.iter().map(|r| r.name.as_str()).collect();
    assert!(
        left.is_empty(),
        "the cancelled build left labelled resources: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_newest_and_used_images() {
    let (docker, _) = setup().await;
    let run_id = RunId::generate();
    // The labels of an app image built by a run that has ended.
    let mut labels = dead_run_labels(&run_id);
    labels.insert(labels::IMAGE_KIND.to_owned(), "app".to_owned());
    let repository = format!("{TEST_REPOSITORY}-prune-{run_id}");
    let oldest = test_image(&repository, "1");
    let middle = test_image(&repository, "2");
    let newest = test_image(&repository, "3");

    for (index, image) in [&oldest, &middle, &newest].into_iter().enumerate() {
        if index > 0 {
            // Docker lists creation times in whole seconds, and the pause orders the images.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        import_image(
            &docker,
            image,
            &labels,
            format!("content {index}").as_bytes(),
        )
        .await;
    }
    // The container carries this process's labels, so that a reaper running in parallel keeps
    // it, and a crashed test leaves it to `harness gc`.
    let user = format!("lv-test-user-{run_id}");
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(user.clone()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(oldest.to_string()),
                cmd: Some(vec!["none".to_owned()]),
                labels: Some(labels::run_labels(&run_id, &Owner::current())),
                ..Default::default()
            },
        )
        .await
        .expect("creating a container from the oldest image should work");

    let report = prune_images(&docker, &repository, 1).await;
    let mut present = Vec::new();
    for image in [&oldest, &middle, &newest] {
        let exists = image_exists(&docker, image)
            .await
            .expect("inspecting a test image should work");
        present.push((image.tag.clone(), exists));
    }
    let remove = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker.remove_container(&user, Some(remove)).await;
    for image in [&oldest, &middle, &newest] {
        remove_image_quietly(&docker, &image.to_string()).await;
    }

    let report = report.expect("pruning should succeed");
    let removed: Vec<&str> = report.removed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        removed,
        [middle.to_string().as_str()],
        "removed images; kept: {:?}",
        report.kept
    );
    assert!(
        report.removed[0].size.is_some_and(|size| size > 0),
        "the removal should have a size: {:?}",
        report.removed[0]
    );
    assert_eq!(report.kept.len(), 1, "kept images: {:?}", report.kept);
    assert_eq!(report.kept[0].reference, oldest.to_string());
    assert_eq!(report.kept[0].reason, format!("used by container {user}"));
    assert_eq!(
        present,
        [
            ("1".to_owned(), true),
            ("2".to_owned(), false),
            ("3".to_owned(), true)
        ],
        "images present after pruning"
    );
}
