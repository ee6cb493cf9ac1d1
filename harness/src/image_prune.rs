//! Pruning of the app images the harness built: every new app binary gets its own
//! `localizevideos/app:<hash>` image of about 180 MB, so all but the newest few are removed.

use std::collections::HashMap;

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, RemoveImageOptions,
};

use crate::cleanup::{Removed, ResourceKind};
use crate::config::APP_IMAGE_REPOSITORY;
use crate::docker::short_id;
use crate::error::{Error, Result};
use crate::labels;
use crate::owner::{self, Liveness, Owner};

/// An app image the pruning left in place although it is not among the newest, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptImage {
    /// Image reference, such as `localizevideos/app:0123456789ab`.
    pub reference: String,
    /// Reason it was kept, such as `used by container lv-app-...`.
    pub reason: String,
}

/// Outcome of a pruning pass.
#[derive(Clone, Debug, Default)]
pub struct PruneReport {
    /// Images removed, each with the size its removal freed.
    pub removed: Vec<Removed>,
    /// Images beyond the newest that were kept.
    pub kept: Vec<KeptImage>,
}

/// An app image built by the harness, as listed.
#[derive(Clone, Debug)]
struct AppImage {
    id: String,
    /// Tags in the pruned repository.
    references: Vec<String>,
    /// Creation time, in seconds since the Unix epoch.
    created: i64,
    labels: HashMap<String, String>,
}

/// Removes the app images built by the harness except the newest `keep`, and reports what it
/// removed and kept.
///
/// An image built by the harness is tagged in `localizevideos/app` and carries the app image
/// label and a run-id label. A prebuilt image without them is never touched. Beyond the newest
/// `keep`, an image is also kept while any container, running or not, uses it (the harness
/// creates a container for the image of a run before it runs it, see
/// `app_image::ensure_app_image`), and while the run that built it is alive or ran on another
/// host.
pub async fn prune_app_images(docker: &Docker, keep: usize) -> Result<PruneReport> {
    prune_images(docker, APP_IMAGE_REPOSITORY, keep).await
}

/// Prunes the harness-built images tagged in `repository` like [`prune_app_images`]. Tests use
/// a repository of their own, so that they never touch the real app images.
pub async fn prune_images(docker: &Docker, repository: &str, keep: usize) -> Result<PruneReport> {
    let mut images = list_app_images(docker, repository).await?;
    // Newest first; the id orders images created in the same second.
    images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    if images.len() <= keep {
        return Ok(PruneReport::default());
    }
    let users = containers_by_image(docker).await?;
    let this_host = owner::hostname();

    let mut report = PruneReport::default();
    for image in images.into_iter().skip(keep) {
        let reference = image.references.join(", ");
        if let Some(reason) = keep_reason(&image, &users, &this_host) {
            tracing::debug!(%reference, %reason, "app image kept");
            report.kept.push(KeptImage { reference, reason });
            continue;
        }
        match remove_app_image(docker, &image).await {
            Ok(removed) => report.removed.push(removed),
            Err(reason) => report.kept.push(KeptImage { reference, reason }),
        }
    }
    Ok(report)
}

async fn list_app_images(docker: &Docker, repository: &str) -> Result<Vec<AppImage>> {
    let filters = HashMap::from([
        ("reference".to_owned(), vec![repository.to_owned()]),
        (
            "label".to_owned(),
            vec![
                format!("{}=app", labels::IMAGE_KIND),
                labels::RUN_ID.to_owned(),
            ],
        ),
    ]);
    let summaries = docker
        .list_images(Some(ListImagesOptions {
            all: false,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|error| Error::docker(format!("listing {repository} images"), error))?;

    let prefix = format!("{repository}:");
    Ok(summaries
        .into_iter()
        .map(|summary| AppImage {
            references: summary
                .repo_tags
                .into_iter()
                .filter(|tag| tag.starts_with(&prefix))
                .collect(),
            id: summary.id,
            created: summary.created,
            labels: summary.labels,
        })
        .filter(|image| !image.references.is_empty())
        .collect())
}

/// Maps each image id that a container uses to the name of one such container.
async fn containers_by_image(docker: &Docker) -> Result<HashMap<String, String>> {
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(|error| Error::docker("listing containers", error))?;
    Ok(containers
        .into_iter()
        .filter_map(|container| {
            let name = container
                .names
                .and_then(|names| names.into_iter().next())
                .map(|name| name.trim_start_matches('/').to_owned())
                .unwrap_or_default();
            Some((container.image_id?, name))
        })
        .collect())
}

/// Returns why an image beyond the newest must stay, or `None` if it can go.
fn keep_reason(
    image: &AppImage,
    users: &HashMap<String, String>,
    this_host: &str,
) -> Option<String> {
    if let Some(container) = users.get(&image.id) {
        return Some(format!("used by container {container}"));
    }
    let run_id = image
        .labels
        .get(labels::RUN_ID)
        .cloned()
        .unwrap_or_default();
    let owner = Owner::from_labels(&image.labels)?;
    match owner.liveness(this_host) {
        Liveness::Dead => None,
        Liveness::Alive => Some(format!(
            "built by run {run_id}, whose process (pid {}) is alive",
            owner.pid
        )),
        Liveness::OtherHost => Some(format!(
            "built by run {run_id} on host {}, whose process this host cannot see",
            owner.host
        )),
    }
}

/// Removes the image's tags in the pruned repository, which deletes the image unless it has tags
/// elsewhere. Without force, Docker refuses while a container uses it.
async fn remove_app_image(
    docker: &Docker,
    image: &AppImage,
) -> std::result::Result<Removed, String> {
    let size = added_size(docker, &image.id).await;
    let mut deleted = false;
    for reference in &image.references {
        let options = RemoveImageOptions {
            force: false,
            noprune: false,
            ..Default::default()
        };
        let items = docker
            .remove_image(reference, Some(options), None)
            .await
            .map_err(|error| format!("removing it failed: {error}"))?;
        deleted |= items.iter().any(|item| item.deleted.is_some());
    }
    Ok(Removed {
        kind: ResourceKind::Image,
        name: image.references.join(", "),
        id: short_id(&image.id).to_owned(),
        run_id: String::new(),
        // An image that keeps other tags frees nothing.
        size: deleted.then_some(size).flatten(),
    })
}

/// Returns the bytes that an image's layers add to its nearest tagged ancestor (for an app
/// image, the runtime image), which is what its removal frees. `None` if the history cannot be
/// read.
pub async fn added_size(docker: &Docker, image_id: &str) -> Option<u64> {
    let history = docker.image_history(image_id).await.ok()?;
    let mut total = 0u64;
    for (index, entry) in history.iter().enumerate() {
        // The first entry is the image itself, which may have tags of its own.
        if index > 0 && !entry.tags.is_empty() {
            break;
        }
        total += u64::try_from(entry.size).unwrap_or(0);
    }
    Some(total)
}

/// Formats a byte count with SI units, as the docker CLI does: `97.2 MB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::RunId;

    fn image_owned_by(owner: &Owner) -> AppImage {
        AppImage {
            id: "sha256:0123456789abcdef".to_owned(),
            references: vec![format!("{APP_IMAGE_REPOSITORY}:0123456789ab")],
            created: 1_700_000_000,
            labels: labels::run_labels(&RunId::from_label("20250114-093015-k3x9qa"), owner),
        }
    }

    fn exited_owner() -> Owner {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` should start");
        let pid = child.id();
        child.wait().expect("`true` should exit");
        Owner {
            pid,
            start_ticks: None,
            host: owner::hostname(),
        }
    }

    #[test]
    fn size_uses_si_units() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (999, "999 B"),
            (1_000, "1.0 kB"),
            (97_230_000, "97.2 MB"),
            (1_500_000_000, "1.5 GB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(format_size(*bytes), *expected, "{bytes} bytes");
        }
    }

    #[test]
    fn image_of_dead_run_can_go() {
        let image = image_owned_by(&exited_owner());
        assert_eq!(
            keep_reason(&image, &HashMap::new(), &owner::hostname()),
            None
        );
    }

    #[test]
    fn image_used_by_container_stays() {
        let image = image_owned_by(&exited_owner());
        let users = HashMap::from([(image.id.clone(), "lv-app-x".to_owned())]);
        let reason = keep_reason(&image, &users, &owner::hostname());
        assert_eq!(reason.as_deref(), Some("used by container lv-app-x"));
    }

    #[test]
    fn image_of_live_run_stays() {
        let image = image_owned_by(&Owner::current());
        let reason = keep_reason(&image, &HashMap::new(), &owner::hostname());
        assert!(
            reason.as_deref().is_some_and(|r| r.contains("is alive")),
            "{reason:?}"
        );
    }

    #[test]
    fn image_from_other_host_stays() {
        let mut owner = exited_owner();
        owner.host = "another-host".to_owned();
        let image = image_owned_by(&owner);
        let reason = keep_reason(&image, &HashMap::new(), "this-host");
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("another-host")),
            "{reason:?}"
        );
    }
}
