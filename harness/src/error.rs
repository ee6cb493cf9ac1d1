//! The harness library's error type. Each variant names what failed, on which value, and what
//! to do next.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::ConfigError;

/// Result type of the harness library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of the harness itself, as opposed to a check's verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The Docker engine did not respond.
    #[error(
        "Docker is not reachable at {host}: {cause}. Start the Docker daemon, or set DOCKER_HOST \
         to its socket (such as unix:///var/run/docker.sock), and check with `docker version`"
    )]
    DockerUnreachable {
        /// The address tried, with where it came from.
        host: String,
        /// Error returned by the client.
        cause: String,
    },

    /// An image is missing locally and the harness does not build it.
    #[error("image {image} is not present in the local Docker engine: {remedy}")]
    ImageMissing {
        /// Image reference.
        image: String,
        /// Command that gets it.
        remedy: String,
    },

    /// `images/build.sh` failed or could not run.
    #[error(
        "`bash images/build.sh {which}` failed to build {image}: {cause}. Read its output above, \
         fix the cause and run it again by hand"
    )]
    ImageBuildScript {
        /// Argument passed to build.sh.
        which: String,
        /// Image the script was to build.
        image: String,
        /// Exit status or spawn error.
        cause: String,
    },

    /// `cargo build` of the app failed.
    #[error("building the app binary with `{command}` failed: {cause}")]
    AppBuild {
        /// The cargo command line.
        command: String,
        /// Exit status, spawn error or what was missing from cargo's output.
        cause: String,
    },

    /// The Docker build of the app image failed.
    #[error("building app image {image} from {base} failed: {cause}")]
    AppImageBuild {
        /// Tag being built.
        image: String,
        /// Base image.
        base: String,
        /// Error reported by the Docker build.
        cause: String,
    },

    /// A Docker API request failed.
    #[error("Docker request failed: {action}: {source}")]
    Docker {
        /// Operation that failed, with the names and ids involved.
        action: String,
        /// The client error.
        source: testcontainers::bollard::errors::Error,
    },

    /// testcontainers could not create or start a container.
    #[error("starting container {container} from image {image} failed: {source}")]
    ContainerStart {
        /// Container name.
        container: String,
        /// Image reference.
        image: String,
        /// The library error (boxed: it is large and this path is rare).
        source: Box<testcontainers::TestcontainersError>,
    },

    /// testcontainers could not stop or remove a container.
    #[error("{action} container {container} failed: {source}")]
    ContainerOperation {
        /// Operation that failed: `stopping` or `removing`.
        action: &'static str,
        /// Container name.
        container: String,
        /// The library error (boxed: it is large and this path is rare).
        source: Box<testcontainers::TestcontainersError>,
    },

    /// A container did not become ready before its deadline.
    #[error(
        "container {container} ({id}) did not become ready within {timeout:?}: {last_error}\n\
         last {log_lines} log lines of {container}:\n{logs}"
    )]
    NotReady {
        /// Container name.
        container: String,
        /// Short container id.
        id: String,
        /// The deadline that passed.
        timeout: Duration,
        /// The last probe failure, or the container's exit.
        last_error: String,
        /// How many log lines are shown.
        log_lines: usize,
        /// The container's last log lines, redacted.
        logs: String,
    },

    /// A container was expected to exit after a signal but still ran at the deadline.
    #[error(
        "container {container} still runs {timeout:?} after the signal that should have stopped \
         it\nlast {log_lines} log lines of {container}:\n{logs}"
    )]
    StillRunning {
        /// Container name.
        container: String,
        /// The deadline that passed.
        timeout: Duration,
        /// How many log lines are shown.
        log_lines: usize,
        /// The container's last log lines, redacted.
        logs: String,
    },

    /// A container stopped before it became ready.
    #[error(
        "container {container} ({id}) {reason} before it became ready; {last_error}\n\
         last {} log lines of {container}:\n{logs}",
        crate::logs::TAIL_LINES
    )]
    StoppedBeforeReady {
        /// Container name.
        container: String,
        /// Short container id.
        id: String,
        /// The container's end, such as `exited with code 1 after running 0.74 s`.
        reason: String,
        /// The failure that made the harness look, such as the last readiness probe.
        last_error: String,
        /// The container's last log lines ([`crate::logs::TAIL_LINES`]), redacted.
        logs: String,
    },

    /// A bootstrap statement failed.
    #[error("database bootstrap failed at step `{step}`: {source}")]
    Bootstrap {
        /// Statement or connection step, which contains no secret.
        step: String,
        /// The driver error.
        source: sqlx::Error,
    },

    /// Writing or applying the production-like topology's pg_hba.conf failed.
    #[error(
        "restricting Postgres's client authentication (pg_hba.conf) failed at step `{step}`: \
         {cause}"
    )]
    ClientAuthentication {
        /// Step, which contains no secret.
        step: String,
        /// Cause of the failure, redacted.
        cause: String,
    },
    /// Creating, cloning or dropping a template database or one of its clones failed.
    #[error(
        "template database step `{step}` failed: {source}. Check that the run's Postgres is \
         running and that no other session is connected to the template"
    )]
    TemplateDatabase {
        /// Statement or connection step, which contains no secret.
        step: String,
        /// The driver error.
        source: sqlx::Error,
    },

    /// Creating or dropping a scratch database failed.
    #[error(
        "scratch database step `{step}` failed: {source}. Check that the run's Postgres is \
         running"
    )]
    ScratchDatabase {
        /// Statement or connection step, which contains no secret.
        step: String,
        /// The driver error.
        source: sqlx::Error,
    },

    /// Applying the migrations failed.
    #[error("applying the migrations in {dir} as lv_migrator failed: {source}")]
    Migrate {
        /// Migrations folder.
        dir: PathBuf,
        /// The migrator's error, which names the version.
        source: sqlx::migrate::MigrateError,
    },

    /// A file lock could not be taken in time.
    #[error(
        "timed out after {waited:?} waiting for lock {path} ({purpose}); another harness process \
         holds it. Wait for it to finish, or remove the file if no harness process runs"
    )]
    LockTimeout {
        /// Lock file.
        path: PathBuf,
        /// Operation the lock serialises.
        purpose: String,
        /// How long the harness waited.
        waited: Duration,
    },

    /// A file operation failed.
    #[error("{action} {path} failed: {source}")]
    Io {
        /// The operation, such as `writing report`.
        action: String,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A step was called out of order, such as starting the app before Postgres.
    #[error("{0}")]
    Usage(String),

    /// Cleanup left resources behind.
    #[error(
        "cleanup of run {run_id} left {leftovers} behind: {cause}. Remove them with `harness gc`"
    )]
    Cleanup {
        /// Run id.
        run_id: String,
        /// The containers and networks still present.
        leftovers: String,
        /// The last error.
        cause: String,
    },

    /// The run was interrupted by a signal.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// Signal name, such as SIGINT.
        signal: &'static str,
    },
}

impl Error {
    /// Wraps a Docker client error with what the harness was doing.
    pub fn docker(
        action: impl Into<String>,
        source: testcontainers::bollard::errors::Error,
    ) -> Self {
        Error::Docker {
            action: action.into(),
            source,
        }
    }
}
