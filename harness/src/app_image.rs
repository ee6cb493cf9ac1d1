//! The app image: the app binary built from this workspace on the host, copied into an image
//! FROM the runtime image and tagged with a hash of the binary and the runtime image id.
//!
//! The binary is built on the host (Debian bookworm, glibc 2.36) and runs in the bookworm
//! runtime image, so both must stay on the same Debian release. A binary linked against a newer
//! glibc than the runtime image contains fails to start with a "GLIBC_x.y not found" error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::ContainerCreateBody;
use testcontainers::bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, CreateContainerOptions,
};
use tokio::sync::watch;

use crate::config::{APP_IMAGE_REPOSITORY, Config, ImageRef};
use crate::docker::short_id;
use crate::error::{Error, Result};
use crate::images::{self, BaseImage};
use crate::labels;
use crate::lock::FileLock;

/// Cargo package of the app.
const APP_PACKAGE: &str = "localizevideos-app";
/// Path of the binary inside the image.
const BINARY_IN_IMAGE: &str = "/usr/local/bin/localizevideos-app";
/// Deadline for `cargo build` of the app: a build from a clean target folder on a 2-core
/// machine takes several minutes, and an incremental one takes seconds.
const CARGO_BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Deadline for waiting on another process that builds the app. It covers that process's
/// cargo build and image build.
const APP_LOCK_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// Deadline for the Docker build, which only copies one file onto the runtime image.
const IMAGE_BUILD_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Number of app image builds of this process that have not ended, including builds whose
/// caller was cancelled (see [`wait_for_builds`]).
static BUILDS_IN_FLIGHT: LazyLock<watch::Sender<usize>> = LazyLock::new(|| watch::Sender::new(0));

/// Returns the app image to run: `HARNESS_APP_IMAGE` if set (it must exist), otherwise
/// `localizevideos/app:<hash12>` built from the workspace with the given cargo features.
///
/// A build with other features produces another binary, so another hash and another tag.
/// Before it returns, it creates a container from the image with `labels` (see [`pin_image`]),
/// so that image pruning by another harness process keeps the image until the run ends.
pub async fn ensure_app_image(
    docker: &Docker,
    config: &Config,
    features: &[String],
    labels: &HashMap<String, String>,
) -> Result<ImageRef> {
    let image = match &config.app_image {
        Some(image) => prebuilt_image(docker, image, features).await?,
        None => build_app_image(docker, config, features, labels).await?,
    };
    pin_image(docker, &image, labels).await?;
    Ok(image)
}

/// Checks that the `HARNESS_APP_IMAGE` image exists and that the run needs no cargo features.
async fn prebuilt_image(
    docker: &Docker,
    image: &ImageRef,
    features: &[String],
) -> Result<ImageRef> {
    if !images::image_exists(docker, image).await? {
        return Err(Error::ImageMissing {
            image: image.to_string(),
            remedy: format!(
                "--app-image or HARNESS_APP_IMAGE names a prebuilt image, which must be in the \
                 local engine: load it first (`docker pull {image}` where its registry is \
                 reachable, or `docker load`), or drop both so that the harness builds the app"
            ),
        });
    }
    if !features.is_empty() {
        return Err(Error::Usage(format!(
            "the run needs an app built with cargo features {features:?}, but \
             HARNESS_APP_IMAGE={image} names a prebuilt image; unset HARNESS_APP_IMAGE \
             so that the harness builds the app with those features"
        )));
    }
    Ok(image.clone())
}

/// Builds the app binary and, unless an image with its hash exists, the app image.
async fn build_app_image(
    docker: &Docker,
    config: &Config,
    features: &[String],
    labels: &HashMap<String, String>,
) -> Result<ImageRef> {
    images::ensure_base_image(docker, config, BaseImage::Runtime).await?;

    // Builds with different features write the same target/debug/localizevideos-app, so the
    // build, the read of the binary and the image build happen under one lock.
    let lock_path = config.locks_dir().join("app-build.lock");
    let _lock = FileLock::acquire(&lock_path, "building the app", APP_LOCK_TIMEOUT).await?;

    let executable = cargo_build(&config.workspace, features).await?;
    let binary = std::fs::read(&executable).map_err(|source| Error::Io {
        action: "reading the app binary".to_owned(),
        path: executable.clone(),
        source,
    })?;
    // The tag covers the runtime image too, so that a changed HARNESS_RUNTIME_IMAGE gets an
    // image of its own instead of reusing one built on the previous runtime.
    let runtime_id = images::image_id(docker, &config.runtime_image).await?;
    let image = ImageRef {
        name: APP_IMAGE_REPOSITORY.to_owned(),
        tag: app_image_tag(&binary, &runtime_id),
    };

    if images::image_exists(docker, &image).await? {
        tracing::info!(%image, "app image exists");
        return Ok(image);
    }
    build_image(docker, &image, &config.runtime_image, &binary, labels).await?;
    Ok(image)
}

/// Creates, and never starts, a container `lv-pin-<run id>-<tag>` from `image` with the run's
/// `labels`. Docker refuses to remove an image that a container uses, and the app image pruning
/// keeps such images, so the image stays from here until the run's cleanup removes the
/// container by its labels. Without it, another harness process could prune the image between
/// this call and the start of the app container, which can be a minute apart.
async fn pin_image(
    docker: &Docker,
    image: &ImageRef,
    labels: &HashMap<String, String>,
) -> Result<()> {
    let Some(run_id) = labels.get(labels::RUN_ID) else {
        return Ok(());
    };
    let name = format!("lv-pin-{run_id}-{}", image.tag);
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    match docker.create_container(Some(options), body).await {
        Ok(response) => {
            tracing::debug!(container = %name, id = %short_id(&response.id), %image, "app image pinned");
            Ok(())
        }
        // The run pinned this image before, such as for an earlier start of the app.
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }) => Ok(()),
        Err(error) => Err(Error::docker(
            format!("creating container {name} that keeps image {image} in use"),
            error,
        )),
    }
}

/// Waits until every app image build of this process has ended, at most `timeout`, and
/// returns whether they all did.
///
/// A build whose caller is cancelled (Ctrl-C) keeps running, because Docker's classic builder
/// stops at a cancelled request only after it committed the step in progress, which leaves an
/// untagged image behind once the label sweep has run. Waiting for the build lets it finish
/// and tag its image instead.
pub async fn wait_for_builds(timeout: Duration) -> bool {
    let mut receiver = BUILDS_IN_FLIGHT.subscribe();
    matches!(
        tokio::time::timeout(timeout, receiver.wait_for(|count| *count == 0)).await,
        Ok(Ok(_))
    )
}

/// Returns the number of app image builds of this process that have not ended.
pub fn builds_in_flight() -> usize {
    *BUILDS_IN_FLIGHT.borrow()
}

/// Counts one build in [`BUILDS_IN_FLIGHT`] from creation until drop.
struct BuildInFlight;

impl BuildInFlight {
    fn start() -> Self {
        BUILDS_IN_FLIGHT.send_modify(|count| *count += 1);
        Self
    }
}

impl Drop for BuildInFlight {
    fn drop(&mut self) {
        BUILDS_IN_FLIGHT.send_modify(|count| *count -= 1);
    }
}

/// Returns the tag of the app image built from `binary` on the runtime image `runtime_id`: the
/// first 12 hex characters of the SHA-256 of both.
pub fn app_image_tag(binary: &[u8], runtime_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(binary);
    hasher.update([0]);
    hasher.update(runtime_id.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex[..12].to_owned()
}

/// Runs `cargo build --workspace --bin localizevideos-app` with `features` of the app and
/// returns the executable path that cargo reports. Cargo's progress and diagnostics go to
/// stderr and stay visible.
async fn cargo_build(workspace: &Path, features: &[String]) -> Result<PathBuf> {
    // Cargo sets CARGO when it runs the harness, and it names the same toolchain.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let args = cargo_build_args(features);
    let command_line = format!("cargo {}", args.join(" "));
    let failure = |cause: String| Error::AppBuild {
        command: command_line.clone(),
        cause,
    };

    tracing::info!(command = %command_line, "building the app binary");
    // cargo writes its diagnostics and progress bar to the inherited stderr.
    let _hidden = crate::progress::terminal::suspend();
    let child = tokio::process::Command::new(&cargo)
        .args(&args)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failure(format!("could not start {cargo}: {error}")))?;

    let output = tokio::time::timeout(CARGO_BUILD_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failure(format!("timed out after {CARGO_BUILD_TIMEOUT:?}")))?
        .map_err(|error| failure(format!("waiting for cargo failed: {error}")))?;
    if !output.status.success() {
        return Err(failure(format!(
            "cargo exited with {}; its diagnostics are printed above",
            output.status
        )));
    }

    let messages = String::from_utf8_lossy(&output.stdout);
    find_executable(&messages, APP_PACKAGE).ok_or_else(|| {
        failure(format!(
            "cargo's JSON messages name no executable for the `{APP_PACKAGE}` binary"
        ))
    })
}

/// Returns the arguments of the app build.
///
/// Cargo unifies dependency features across the packages a command selects. With
/// `-p localizevideos-app` it would resolve them for the app alone, differently from
/// `cargo build --workspace` and `cargo nextest run --workspace`, and compile the shared
/// dependencies again (minutes on 2 cores). Selecting the workspace and filtering the target
/// with `--bin` reuses their artifacts.
fn cargo_build_args(features: &[String]) -> Vec<String> {
    let mut args = vec![
        "build".to_owned(),
        "--workspace".to_owned(),
        "--bin".to_owned(),
        APP_PACKAGE.to_owned(),
    ];
    if !features.is_empty() {
        // With several packages selected, a feature needs its package's name.
        let qualified: Vec<String> = features
            .iter()
            .map(|feature| match feature.contains('/') {
                true => feature.clone(),
                false => format!("{APP_PACKAGE}/{feature}"),
            })
            .collect();
        args.push("--features".to_owned());
        args.push(qualified.join(","));
    }
    args.push("--message-format=json-render-diagnostics".to_owned());
    args
}

/// Finds the executable of binary target `target_name` in cargo's JSON messages (one JSON
/// object per line, `reason: compiler-artifact`).
fn find_executable(messages: &str, target_name: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == target_name)
        .filter(|message| {
            message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .next_back()
}

/// Returns the Dockerfile of the app image.
///
/// The labels come right after FROM, so that the classic builder's intermediate containers
/// carry the run labels too: a build interrupted mid-way leaves containers that the label
/// sweep and `harness gc` can find. One LABEL instruction keeps the build to few steps, each of
/// which starts a container.
fn dockerfile(base: &ImageRef, labels: &HashMap<String, String>) -> String {
    let mut label_pairs: Vec<(&String, &String)> = labels.iter().collect();
    label_pairs.sort();
    let label_line: String = label_pairs
        .iter()
        .map(|(key, value)| format!(" {key}=\"{}\"", dockerfile_escape(value)))
        .collect();

    format!(
        "FROM {base}\n\
         LABEL {kind}=\"app\"{label_line}\n\
         COPY localizevideos-app {BINARY_IN_IMAGE}\n\
         EXPOSE 8080\n\
         USER 65534:65534\n\
         ENTRYPOINT [\"{BINARY_IN_IMAGE}\"]\n",
        kind = labels::IMAGE_KIND,
    )
}

/// Escapes a value for a double-quoted Dockerfile string.
fn dockerfile_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Builds the in-memory tar build context: the Dockerfile and the binary (mode 0755).
fn build_context(
    base: &ImageRef,
    labels: &HashMap<String, String>,
    binary: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());

    let dockerfile = dockerfile(base, labels);
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;

    let mut header = tar::Header::new_gnu();
    header.set_size(binary.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    archive.append_data(&mut header, "localizevideos-app", binary)?;

    archive.into_inner()
}

/// Builds `image` FROM `base` with `binary` as its entrypoint and `labels` on the image and on
/// every intermediate container (see `dockerfile`), with the classic builder.
///
/// The build runs in a task of its own that a cancelled caller does not stop, so that it
/// leaves a tagged image and no unfinished one (see [`wait_for_builds`]).
pub async fn build_image(
    docker: &Docker,
    image: &ImageRef,
    base: &ImageRef,
    binary: &[u8],
    labels: &HashMap<String, String>,
) -> Result<()> {
    let failure = |cause: String| Error::AppImageBuild {
        image: image.to_string(),
        base: base.to_string(),
        cause,
    };
    let context = build_context(base, labels, binary)
        .map_err(|error| failure(format!("writing the build context failed: {error}")))?;

    // Classic builder and no pull: the base image is local and no registry is reachable. The
    // labels are in the Dockerfile, not in the `labels` option (see `dockerfile`).
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_owned(),
        t: Some(image.to_string()),
        pull: None,
        rm: true,
        forcerm: true,
        version: BuilderVersion::BuilderV1,
        ..Default::default()
    };

    tracing::info!(%image, %base, "building the app image");
    let started = std::time::Instant::now();
    let body = testcontainers::bollard::body_full(context.into());
    let in_flight = BuildInFlight::start();
    let docker = docker.clone();
    let tag = image.to_string();
    // The build runs in its own task, which a cancelled caller does not stop (see
    // `wait_for_builds`).
    let build = tokio::spawn(async move {
        let _in_flight = in_flight;
        let stream_build = async {
            let mut stream = docker.build_image(options, None, Some(body));
            while let Some(item) = stream.next().await {
                let info = item.map_err(|error| error.to_string())?;
                if let Some(detail) = info.error_detail {
                    return Err(detail.message.unwrap_or_default());
                }
                if let Some(line) = info.stream.as_deref().map(str::trim_end)
                    && !line.is_empty()
                {
                    tracing::debug!(image = %tag, "docker build: {line}");
                }
            }
            Ok(())
        };
        tokio::time::timeout(IMAGE_BUILD_TIMEOUT, stream_build)
            .await
            .map_err(|_| format!("timed out after {IMAGE_BUILD_TIMEOUT:?}"))?
    });
    build
        .await
        .map_err(|error| failure(format!("the build task failed: {error}")))?
        .map_err(failure)?;

    tracing::info!(%image, elapsed = ?started.elapsed(), "app image built");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_is_found_in_cargo_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"fail","kind":["lib"]},"executable":null}"#,
            r#"{"reason":"compiler-message","message":{}}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"localizevideos-app","kind":["bin"]},"executable":"/w/target/debug/localizevideos-app"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            find_executable(&messages, "localizevideos-app"),
            Some(PathBuf::from("/w/target/debug/localizevideos-app"))
        );
    }

    #[test]
    fn missing_executable_is_none() {
        let messages = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(find_executable(messages, "localizevideos-app"), None);
    }

    #[test]
    fn build_selects_workspace_and_app_binary() {
        let args = cargo_build_args(&[]);
        assert_eq!(
            args,
            [
                "build",
                "--workspace",
                "--bin",
                "localizevideos-app",
                "--message-format=json-render-diagnostics"
            ]
        );
    }

    #[test]
    fn build_features_name_the_app_package() {
        let args = cargo_build_args(&["failpoints".to_owned(), "other/x".to_owned()]);
        let features = args
            .iter()
            .position(|arg| arg == "--features")
            .map(|index| args[index + 1].as_str());
        assert_eq!(features, Some("localizevideos-app/failpoints,other/x"));
    }

    #[test]
    fn tag_is_12_lowercase_hex() {
        let tag = app_image_tag(b"binary", "sha256:aa");
        assert_eq!(tag.len(), 12);
        assert!(
            tag.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn tag_changes_with_binary_and_runtime() {
        let tag = app_image_tag(b"binary", "sha256:aa");
        assert_ne!(
            tag,
            app_image_tag(b"other binary", "sha256:aa"),
            "different binaries, same tag"
        );
        assert_ne!(
            tag,
            app_image_tag(b"binary", "sha256:bb"),
            "different runtime images, same tag"
        );
    }

    #[test]
    fn build_context_holds_dockerfile_and_executable_binary() {
        let base = ImageRef::parse("localizevideos/runtime:bookworm").expect("valid reference");
        let labels = HashMap::from([(labels::RUN_ID.to_owned(), "run \"1\"".to_owned())]);
        let context =
            build_context(&base, &labels, b"\x7fELF...").expect("context should be written");

        let mut archive = tar::Archive::new(context.as_slice());
        let mut entries: Vec<(String, u32, Vec<u8>)> = Vec::new();
        for entry in archive.entries().expect("context should be a tar archive") {
            let mut entry = entry.expect("entry should be readable");
            let path = entry
                .path()
                .expect("entry has a path")
                .display()
                .to_string();
            let mode = entry.header().mode().expect("entry has a mode");
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).expect("entry is readable");
            entries.push((path, mode, content));
        }

        assert_eq!(entries.len(), 2, "context should hold two files");
        let (name, _, dockerfile) = &entries[0];
        assert_eq!(name, "Dockerfile");
        let dockerfile = String::from_utf8_lossy(dockerfile);
        let mut lines = dockerfile.lines();
        assert_eq!(lines.next(), Some("FROM localizevideos/runtime:bookworm"));
        assert_eq!(
            lines.next(),
            Some(
                r#"LABEL org.localizevideos.image="app" org.localizevideos.harness.run-id="run \"1\"""#
            ),
            "labels should follow FROM, escaped: {dockerfile}"
        );
        assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/localizevideos-app\"]"));
        let (name, mode, binary) = &entries[1];
        assert_eq!(name, "localizevideos-app");
        assert_eq!(*mode, 0o755);
        assert_eq!(binary.as_slice(), b"\x7fELF...");
    }
}
