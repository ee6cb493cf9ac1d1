//! Presence of the Postgres and runtime images before anything starts. A missing image of ours
//! is built with `images/build.sh`, and any other missing image is an environment error.
//! The harness never lets testcontainers pull, because no registry is reachable.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use testcontainers::bollard::Docker;

use crate::config::{Config, DEFAULT_POSTGRES_IMAGE, DEFAULT_RUNTIME_IMAGE, ImageRef};
use crate::docker::is_not_found;
use crate::error::{Error, Result};
use crate::lock::FileLock;

/// Deadline for `images/build.sh`. It downloads about 60 MB of Debian packages and builds a
/// root filesystem, which takes minutes. The script also has its own per-step deadlines.
const BUILD_SCRIPT_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Deadline for waiting on another process that builds the same image.
const BUILD_LOCK_TIMEOUT: Duration = Duration::from_secs(50 * 60);

/// An image that `images/build.sh` can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseImage {
    /// The Postgres server image.
    Postgres,
    /// The base image of the app image.
    Runtime,
}

impl BaseImage {
    /// Returns the argument `images/build.sh` takes for this image.
    pub fn script_argument(self) -> &'static str {
        match self {
            BaseImage::Postgres => "postgres",
            BaseImage::Runtime => "runtime",
        }
    }

    /// Returns the name `images/build.sh` builds this image under.
    pub fn default_reference(self) -> &'static str {
        match self {
            BaseImage::Postgres => DEFAULT_POSTGRES_IMAGE,
            BaseImage::Runtime => DEFAULT_RUNTIME_IMAGE,
        }
    }

    /// Returns the configured reference of this image.
    pub fn reference(self, config: &Config) -> &ImageRef {
        match self {
            BaseImage::Postgres => &config.postgres_image,
            BaseImage::Runtime => &config.runtime_image,
        }
    }
}

/// Checks whether `image` exists in the local engine.
pub async fn image_exists(docker: &Docker, image: &ImageRef) -> Result<bool> {
    match docker.inspect_image(&image.to_string()).await {
        Ok(_) => Ok(true),
        Err(error) if is_not_found(&error) => Ok(false),
        Err(error) => Err(Error::docker(format!("inspecting image {image}"), error)),
    }
}

/// Returns the id (`sha256:…`) of `image`, which must exist in the local engine.
pub async fn image_id(docker: &Docker, image: &ImageRef) -> Result<String> {
    let inspected = docker
        .inspect_image(&image.to_string())
        .await
        .map_err(|error| Error::docker(format!("inspecting image {image}"), error))?;
    inspected.id.ok_or_else(|| {
        Error::Usage(format!(
            "the Docker engine returned no id for image {image}; check it with `docker image inspect {image}`"
        ))
    })
}

/// Makes sure `base` exists: builds it with `bash images/build.sh <which>` (output shown as it
/// runs) if it is ours, or fails with the `docker pull` command if it is not.
pub async fn ensure_base_image(docker: &Docker, config: &Config, base: BaseImage) -> Result<()> {
    let image = base.reference(config);
    if image_exists(docker, image).await? {
        return Ok(());
    }
    if !image.is_ours() {
        return Err(Error::ImageMissing {
            image: image.to_string(),
            remedy: format!(
                "it is not built by this project, so pull it with `docker pull {image}` on a \
                 machine that reaches its registry, or unset the variable that selected it"
            ),
        });
    }
    if image.to_string() != base.default_reference() {
        return Err(Error::ImageMissing {
            image: image.to_string(),
            remedy: format!(
                "images/build.sh builds only {DEFAULT_POSTGRES_IMAGE} and \
                 {DEFAULT_RUNTIME_IMAGE}; unset the variable that selected {image}, or tag an \
                 existing image with that name (docker tag)"
            ),
        });
    }

    // Parallel test processes wait here while the first one builds.
    let lock_path = config
        .locks_dir()
        .join(format!("image-{}.lock", base.script_argument()));
    let _lock =
        FileLock::acquire(&lock_path, &format!("building {image}"), BUILD_LOCK_TIMEOUT).await?;
    if image_exists(docker, image).await? {
        tracing::info!(%image, "image was built by another harness process");
        return Ok(());
    }

    run_build_script(&config.workspace, base, image).await?;

    if !image_exists(docker, image).await? {
        return Err(Error::ImageBuildScript {
            which: base.script_argument().to_owned(),
            image: image.to_string(),
            cause: "the script succeeded but the image is still missing; check that \
                    HARNESS_POSTGRES_IMAGE and HARNESS_RUNTIME_IMAGE name the same images \
                    for the script and the harness"
                .to_owned(),
        });
    }
    Ok(())
}

async fn run_build_script(workspace: &Path, base: BaseImage, image: &ImageRef) -> Result<()> {
    let which = base.script_argument();
    let failure = |cause: String| Error::ImageBuildScript {
        which: which.to_owned(),
        image: image.to_string(),
        cause,
    };

    tracing::info!(%image, "image missing; building it with `bash images/build.sh {which}`");
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new("bash")
        .arg("images/build.sh")
        .arg(which)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failure(format!("could not start bash: {error}")))?;

    let status = match tokio::time::timeout(BUILD_SCRIPT_TIMEOUT, child.wait()).await {
        Ok(status) => status.map_err(|error| failure(format!("waiting for it failed: {error}")))?,
        Err(_) => {
            // kill_on_drop ends the script when `child` goes out of scope.
            return Err(failure(format!("timed out after {BUILD_SCRIPT_TIMEOUT:?}")));
        }
    };
    if !status.success() {
        return Err(failure(format!("it exited with {status}")));
    }
    tracing::info!(%image, elapsed = ?started.elapsed(), "image built");
    Ok(())
}
