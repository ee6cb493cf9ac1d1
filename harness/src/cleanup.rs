//! Removal of a run's containers, networks and unfinished images by its run-id label: the
//! fallback when a run ends without an orderly shutdown (panic, signal, cancelled start), and
//! the reaper's tool.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, ListNetworksOptions, RemoveContainerOptions,
    RemoveImageOptions,
};

use crate::docker::{self, is_not_found, short_id};
use crate::error::{Error, Result};
use crate::image_prune::{added_size, format_size};
use crate::labels::{self, RunId};

/// Deadline for removing a run's resources. Removing a container with force kills it first,
/// which takes well under a second. The rest covers network removals that wait for a
/// container to let go of the network.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between removal passes while something is left.
const PASS_INTERVAL: Duration = Duration::from_millis(500);

/// Kind of a removed resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// A container.
    Container,
    /// A network.
    Network,
    /// An untagged (dangling) image: what an interrupted image build leaves.
    Image,
}

/// A container or network that cleanup removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// Container or network.
    pub kind: ResourceKind,
    /// Name without the leading `/` Docker puts on container names.
    pub name: String,
    /// Short id.
    pub id: String,
    /// Run id label of the resource.
    pub run_id: String,
    /// For an image, the bytes its layers add to its base image, which its removal frees.
    pub size: Option<u64>,
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ResourceKind::Container => write!(f, "container {} ({})", self.name, self.id)?,
            ResourceKind::Network => write!(f, "network {} ({})", self.name, self.id)?,
            ResourceKind::Image if self.name == self.id => {
                write!(f, "unfinished image {}", self.id)?
            }
            ResourceKind::Image => write!(f, "image {} ({})", self.name, self.id)?,
        }
        if !self.run_id.is_empty() {
            write!(f, " of run {}", self.run_id)?;
        }
        if let Some(size) = self.size {
            write!(f, ", {}", format_size(size))?;
        }
        Ok(())
    }
}

/// A labelled container or network, as listed.
#[derive(Clone, Debug)]
pub struct Labelled {
    /// Container or network.
    pub kind: ResourceKind,
    /// Name without the leading `/`.
    pub name: String,
    /// Full id.
    pub id: String,
    /// All labels of the resource.
    pub labels: HashMap<String, String>,
}

impl Labelled {
    /// Returns the run id label, or an empty string.
    pub fn run_id(&self) -> String {
        self.labels.get(labels::RUN_ID).cloned().unwrap_or_default()
    }
}

/// Lists the containers (running or not), networks and untagged images matching the label
/// `filter`, such as [`labels::run_filter`].
///
/// Only untagged images without child images are listed. An interrupted app image build leaves
/// such an image with the run labels (see `app_image::dockerfile`), and removing it removes its
/// untagged parents too. A finished build's image is tagged, and its parents have children, so
/// neither is listed.
pub async fn list_labelled(
    docker: &Docker,
    filter: HashMap<String, Vec<String>>,
) -> Result<Vec<Labelled>> {
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter.clone()),
            ..Default::default()
        }))
        .await
        .map_err(|error| Error::docker("listing labelled containers", error))?;
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filter.clone()),
        }))
        .await
        .map_err(|error| Error::docker("listing labelled networks", error))?;
    let mut image_filter = filter;
    image_filter.insert("dangling".to_owned(), vec!["true".to_owned()]);
    let images = docker
        .list_images(Some(ListImagesOptions {
            all: false,
            filters: Some(image_filter),
            ..Default::default()
        }))
        .await
        .map_err(|error| Error::docker("listing labelled untagged images", error))?;

    let containers = containers.into_iter().map(|container| Labelled {
        kind: ResourceKind::Container,
        name: container
            .names
            .and_then(|names| names.into_iter().next())
            .map(|name| name.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        id: container.id.unwrap_or_default(),
        labels: container.labels.unwrap_or_default(),
    });
    let networks = networks.into_iter().map(|network| Labelled {
        kind: ResourceKind::Network,
        name: network.name.unwrap_or_default(),
        id: network.id.unwrap_or_default(),
        labels: network.labels.unwrap_or_default(),
    });
    let images = images.into_iter().map(|image| Labelled {
        kind: ResourceKind::Image,
        name: short_id(&image.id).to_owned(),
        id: image.id,
        labels: image.labels,
    });
    // Containers first: a network cannot be removed while a container is attached to it, nor
    // an image while a container uses it.
    Ok(containers.chain(networks).chain(images).collect())
}

/// Removes one listed resource and returns the size it freed, for an image. One that is already
/// gone counts as removed.
async fn remove_one(
    docker: &Docker,
    resource: &Labelled,
) -> std::result::Result<Option<u64>, String> {
    let mut size = None;
    let result = match resource.kind {
        ResourceKind::Container => {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            docker.remove_container(&resource.id, Some(options)).await
        }
        ResourceKind::Network => docker.remove_network(&resource.id).await,
        ResourceKind::Image => {
            size = added_size(docker, &resource.id).await;
            // Without force, Docker refuses to remove an image that a container uses.
            let options = RemoveImageOptions {
                force: false,
                noprune: false,
                ..Default::default()
            };
            docker
                .remove_image(&resource.id, Some(options), None)
                .await
                .map(|_| ())
        }
    };
    match result {
        Ok(()) => Ok(size),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

/// Removes every container, network and untagged image labelled with `run_id`, repeating until
/// none is left or `timeout` passes, and returns what was removed. Each removal is logged at
/// debug level: callers print or log the returned list.
///
/// NOTE: a container whose create request was still in flight, or an image that an interrupted
/// build step was still committing, when the last pass listed nothing is not seen here.
/// `harness gc` removes it once its owner has exited.
pub async fn remove_run(
    docker: &Docker,
    run_id: &RunId,
    timeout: Duration,
) -> Result<Vec<Removed>> {
    remove_matching(docker, run_id, labels::run_filter(run_id), timeout).await
}

/// Removes every container, network and untagged image labelled with `run_id` and lane `lane`
/// (see [`labels::LANE`]), as [`remove_run`] does, and leaves the run's other lanes running.
pub async fn remove_lane(
    docker: &Docker,
    run_id: &RunId,
    lane: &str,
    timeout: Duration,
) -> Result<Vec<Removed>> {
    remove_matching(docker, run_id, labels::lane_filter(run_id, lane), timeout).await
}

async fn remove_matching(
    docker: &Docker,
    run_id: &RunId,
    filter: HashMap<String, Vec<String>>,
    timeout: Duration,
) -> Result<Vec<Removed>> {
    let deadline = Instant::now() + timeout;
    let mut removed = Vec::new();
    loop {
        let present = list_labelled(docker, filter.clone()).await?;
        if present.is_empty() {
            return Ok(removed);
        }

        let mut last_error = None;
        for resource in &present {
            match remove_one(docker, resource).await {
                Ok(size) => {
                    let entry = Removed {
                        kind: resource.kind,
                        name: resource.name.clone(),
                        id: short_id(&resource.id).to_owned(),
                        run_id: run_id.to_string(),
                        size,
                    };
                    tracing::debug!(run_id = %run_id, "removed {entry}");
                    removed.push(entry);
                }
                Err(error) => {
                    tracing::debug!(run_id = %run_id, resource = %resource.name, %error, "removal failed; retrying");
                    last_error = Some(format!("removing {} failed: {error}", resource.name));
                }
            }
        }

        if Instant::now() >= deadline {
            let leftovers = present
                .iter()
                .map(|resource| resource.name.clone())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::Cleanup {
                run_id: run_id.to_string(),
                leftovers,
                cause: last_error.unwrap_or_else(|| format!("still present after {timeout:?}")),
            });
        }
        if last_error.is_some() {
            tokio::time::sleep(PASS_INTERVAL).await;
        }
    }
}

/// Removes every container, network and untagged image of `run_id` from a new thread with its
/// own runtime and its own Docker client, and waits for it. Safe to call from `Drop`, from
/// inside or outside a runtime, because it never blocks on the caller's runtime.
pub fn remove_run_blocking(run_id: &RunId) -> Result<Vec<Removed>> {
    remove_blocking(run_id, None)
}

/// Removes what [`remove_lane`] removes, from a new thread as [`remove_run_blocking`] does.
pub fn remove_lane_blocking(run_id: &RunId, lane: &str) -> Result<Vec<Removed>> {
    remove_blocking(run_id, Some(lane.to_owned()))
}

fn remove_blocking(run_id: &RunId, lane: Option<String>) -> Result<Vec<Removed>> {
    let run_id = run_id.clone();
    let worker = std::thread::Builder::new()
        .name(format!("harness-cleanup-{run_id}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| Error::Cleanup {
                    run_id: run_id.to_string(),
                    leftovers: "every resource of the run".to_owned(),
                    cause: format!("starting a runtime for cleanup failed: {error}"),
                })?;
            runtime.block_on(async {
                let docker = docker::connect_unshared()?;
                match &lane {
                    Some(lane) => remove_lane(&docker, &run_id, lane, CLEANUP_TIMEOUT).await,
                    None => remove_run(&docker, &run_id, CLEANUP_TIMEOUT).await,
                }
            })
        });
    match worker {
        Ok(handle) => handle
            .join()
            .unwrap_or_else(|_| Err(Error::Usage("the cleanup thread panicked".to_owned()))),
        Err(error) => Err(Error::Usage(format!(
            "starting the cleanup thread failed: {error}"
        ))),
    }
}
