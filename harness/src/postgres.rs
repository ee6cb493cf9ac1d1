//! The Postgres container: a testcontainers image for the configured Postgres image, published
//! on 127.0.0.1 only or not at all, with readiness probed by SQL rather than by log lines.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    HostConfig, Mount, MountTmpfsOptions, MountType, MountVolumeOptions,
};
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};

use crate::config::ImageRef;
use crate::docker::{publish_no_ports, publish_on, short_id, stopped_before_ready};
use crate::durability::Durability;
use crate::engine_address::EngineAddress;
use crate::error::{Error, Result};
use crate::labels::RunId;
use crate::logs;
use crate::secret::Secret;

/// Superuser the image creates (POSTGRES_USER). The harness uses it only to bootstrap.
pub const SUPERUSER: &str = "postgres";
/// Database the image creates (POSTGRES_DB), where the superuser connects to bootstrap.
pub const MAINTENANCE_DATABASE: &str = "postgres";
/// Port Postgres listens on inside the container.
pub const PORT: u16 = 5432;
/// Data folder (PGDATA) of the official image and of ours, where the harness mounts an
/// anonymous volume or a tmpfs (see [`DataFolder`]). The container's own layer is on the
/// storage driver, which is fuse-overlayfs on some hosts and makes every fsync slow.
///
/// NOTE: tested with the harness's PostgreSQL 15 image only. Official images of PostgreSQL 18
/// and later moved PGDATA below /var/lib/postgresql and may reject a mount at this path.
pub const DATA_DIR: &str = "/var/lib/postgresql/data";
/// Interval between readiness probes. A failed probe of a server that is still starting costs
/// a refused TCP connection, so probing often adds little load and shortens the wait.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// Deadline of one readiness probe (connect and `SELECT 1`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Location of the Postgres data folder ([`DATA_DIR`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataFolder {
    /// An anonymous volume on the host's file system. It survives a stop and start of the
    /// container, and Docker removes it with the container (`docker rm -v`, which the
    /// harness's cleanup uses).
    #[default]
    Volume,
    /// A tmpfs mount, in memory, where creating a file costs no disk. A first start extracts
    /// the cluster in about half the time of a volume. A template clone, which creates some
    /// 300 files, takes 8 to 15 ms, where a volume gave 16 to 150 ms on the same machine
    /// (docs/benchmarks.md). The data is gone when the container stops, so it suits only runs
    /// with test-only durability settings that never stop, kill or crash Postgres.
    Memory,
}

impl DataFolder {
    /// Name in logs and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            DataFolder::Volume => "volume",
            DataFolder::Memory => "memory",
        }
    }

    /// Returns whether the data stays when the container stops and starts again.
    pub fn survives_stop(self) -> bool {
        self == DataFolder::Volume
    }
}

/// A testcontainers image for a Postgres image that honours the official image's contract.
///
/// It has no log-based ready condition: the official image logs "ready to accept connections"
/// twice on a first start (once for the temporary init server), and never again for an
/// existing data folder, so readiness is probed with `SELECT 1` over the published port.
/// The server's durability settings come from [`PostgresOptions::durability`].
#[derive(Debug, Clone)]
pub struct PostgresImage {
    image: ImageRef,
    superuser_password: Secret,
    server_args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

/// How to start a Postgres container.
#[derive(Debug, Clone, Default)]
pub struct PostgresOptions {
    /// Whether 5432 is published on 127.0.0.1. Without it, no port is published.
    pub publish: bool,
    /// Durable server settings, or the test-only ones that skip syncing to disk.
    pub durability: Durability,
    /// POSTGRES_INITDB_ARGS, or `None` to leave it unset. The harness's image copies a cluster
    /// initialized at image build time unless this is set, so the benchmark sets it to measure
    /// a first start that runs initdb, as the official image's does.
    pub initdb_args: Option<String>,
    /// POSTGRES_DB, or `None` for the maintenance database `postgres`. Another name makes the
    /// entrypoint start a temporary server at first start to create it, as the official
    /// image's entrypoint does on every first start, so the benchmark sets it to time that way.
    pub first_start_database: Option<String>,
    /// Location of the data folder: a volume (the default) or memory.
    pub data_folder: DataFolder,
}

impl PostgresImage {
    /// Creates the image description for `image` with the superuser's password and `options`.
    pub fn new(image: ImageRef, superuser_password: Secret, options: &PostgresOptions) -> Self {
        let mut env = vec![
            ("POSTGRES_USER", SUPERUSER.to_owned()),
            (
                "POSTGRES_DB",
                options
                    .first_start_database
                    .clone()
                    .unwrap_or_else(|| MAINTENANCE_DATABASE.to_owned()),
            ),
        ];
        if let Some(args) = &options.initdb_args {
            env.push(("POSTGRES_INITDB_ARGS", args.clone()));
        }
        Self {
            image,
            superuser_password,
            server_args: options.durability.server_args(),
            env,
        }
    }
}

impl Image for PostgresImage {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        &self.image.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        Vec::new()
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        let password = ("POSTGRES_PASSWORD", self.superuser_password.expose());
        self.env
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain([password])
    }

    /// Options alone, such as `-c fsync=off`: the official image's entrypoint and ours pass
    /// them to postgres. Empty for durable settings, so the image's own command runs.
    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        self.server_args.iter().map(String::as_str)
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[ContainerPort::Tcp(PORT)]
    }
}

/// A running Postgres container of a run.
pub struct PostgresContainer {
    container: ContainerAsync<PostgresImage>,
    name: String,
    data_folder: DataFolder,
}

/// Returns the Postgres container name of a run. The app reaches Postgres by this name.
pub fn container_name(run_id: &RunId) -> String {
    format!("lv-pg-{run_id}")
}

/// Starts the Postgres container of `run_id` on `network` with `labels` and `options`,
/// publishing 5432 on the engine's address (127.0.0.1 for a local engine) when
/// `options.publish` is true. It returns once the container runs, so call
/// [`PostgresContainer::wait_until_ready`] next.
pub async fn start(
    image: &ImageRef,
    run_id: &RunId,
    network: &str,
    labels: &HashMap<String, String>,
    superuser_password: &Secret,
    options: &PostgresOptions,
) -> Result<PostgresContainer> {
    let name = container_name(run_id);
    let bind_ip = EngineAddress::from_env()?.bind_ip();
    let started = Instant::now();
    let container = PostgresImage::new(image.clone(), superuser_password.clone(), options)
        .with_container_name(&name)
        .with_network(network)
        .with_labels(labels.clone())
        .with_host_config_modifier(host_config(
            options.publish,
            bind_ip,
            options.data_folder,
            labels.clone(),
        ))
        .start()
        .await
        .map_err(|source| Error::ContainerStart {
            container: name.clone(),
            image: image.to_string(),
            source: Box::new(source),
        })?;

    tracing::info!(
        container = %name,
        id = %short_id(container.id()),
        %image,
        durability = options.durability.name(),
        data_folder = options.data_folder.name(),
        elapsed = ?started.elapsed(),
        "Postgres container started"
    );
    Ok(PostgresContainer {
        container,
        name,
        data_folder: options.data_folder,
    })
}

impl PostgresContainer {
    /// Container name, `lv-pg-<run id>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Full container id.
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// Returns the testcontainers handle, for stop, start and log access. Crate-private: a stop
    /// through it would skip [`PostgresContainer::check_survives_stop`].
    pub(crate) fn container(&self) -> &ContainerAsync<PostgresImage> {
        &self.container
    }

    /// Returns the location of the container's data folder.
    pub fn data_folder(&self) -> DataFolder {
        self.data_folder
    }

    /// Returns a usage error for `step` (stopping, signalling or starting again) when the data
    /// folder is in memory, which a stop discards.
    pub fn check_survives_stop(&self, step: &str) -> Result<()> {
        if self.data_folder.survives_stop() {
            return Ok(());
        }
        let consequence = match step {
            // The container already stopped, so the tmpfs is already empty.
            "starting again" => {
                "would start an empty cluster, because its data was lost when it stopped"
            }
            _ => "would discard its data",
        };
        Err(Error::Usage(format!(
            "{step} the Postgres container {} {consequence}: its data folder is in memory \
             (tmpfs), which a stop empties. Start the run with `RunOptions::postgres_data` set to \
             `DataFolder::Volume` to stop and start Postgres",
            self.name
        )))
    }

    /// Stops the container. Its data folder stays, and [`PostgresContainer::start_stopped`]
    /// starts it again. A usage error for a data folder in memory, before anything stops.
    pub async fn stop(&self) -> Result<()> {
        self.check_survives_stop("stopping")?;
        self.container
            .stop()
            .await
            .map_err(|source| Error::ContainerOperation {
                action: "stopping",
                container: self.name.clone(),
                source: Box::new(source),
            })
    }

    /// Starts the stopped container on its existing data folder. Query
    /// [`PostgresContainer::host_port`] again afterwards, because the port can change.
    pub async fn start_stopped(&self) -> Result<()> {
        self.check_survives_stop("starting again")?;
        self.container
            .start()
            .await
            .map_err(|source| Error::ContainerStart {
                container: self.name.clone(),
                image: self.container.image().image.to_string(),
                source: Box::new(source),
            })
    }

    /// Removes the container and its anonymous volumes, and waits until Docker has done so.
    pub async fn remove(self) -> Result<()> {
        let name = self.name;
        self.container
            .rm()
            .await
            .map_err(|source| Error::ContainerOperation {
                action: "removing",
                container: name,
                source: Box::new(source),
            })
    }

    /// Consumes the handle without removing the container, which the caller then removes.
    pub(crate) fn into_container(self) -> ContainerAsync<PostgresImage> {
        self.container
    }

    /// Queries the host port published for 5432 on 127.0.0.1. The port can change when the
    /// container is stopped and started, so callers ask again after every start.
    pub async fn host_port(&self) -> Result<u16> {
        self.container
            .get_host_port_ipv4(PORT)
            .await
            .map_err(|source| Error::ContainerStart {
                container: self.name.clone(),
                image: self.container.image().image.to_string(),
                source: Box::new(source),
            })
    }

    /// Waits until the superuser can run `SELECT 1` through `host`:`port` (127.0.0.1 and the
    /// published port, or the container's address and 5432), at most `timeout`. On a timeout,
    /// or if the container stops, the error shows the container's last log lines.
    pub async fn wait_until_ready(
        &self,
        docker: &Docker,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        let deadline = started + timeout;
        let options = PgConnectOptions::new()
            .host(host)
            .port(port)
            .username(SUPERUSER)
            .password(self.container.image().superuser_password.expose())
            .database(MAINTENANCE_DATABASE)
            .disable_statement_logging();

        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let last_error = match probe(&options).await {
                Ok(()) => {
                    tracing::info!(
                        container = %self.name,
                        elapsed = ?started.elapsed(),
                        attempts,
                        "Postgres ready"
                    );
                    return Ok(());
                }
                Err(error) => error,
            };

            let stopped = stopped_before_ready(
                docker,
                &self.name,
                self.id(),
                format!("last probe error: {last_error}"),
            );
            if let Some(error) = stopped.await {
                return Err(error);
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    container: self.name.clone(),
                    id: short_id(self.id()).to_owned(),
                    timeout,
                    last_error: format!(
                        "{attempts} probes of `SELECT 1` failed, last: {last_error}"
                    ),
                    log_lines: logs::TAIL_LINES,
                    logs: logs::tail(docker, self.id(), logs::TAIL_LINES).await,
                });
            }
            tracing::debug!(container = %self.name, attempts, error = %last_error, "Postgres not ready yet");
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}

/// Publishes 5432 on `bind_ip` when `publish` is true and no port otherwise, and mounts an
/// anonymous volume with `labels`, or a tmpfs, on [`DATA_DIR`].
fn host_config(
    publish: bool,
    bind_ip: Ipv4Addr,
    data_folder: DataFolder,
    labels: HashMap<String, String>,
) -> impl Fn(&mut HostConfig) + Send + Sync + 'static {
    let published = publish_on(PORT, bind_ip);
    let no_ports = publish_no_ports();
    move |host_config| {
        if publish {
            published(host_config);
        } else {
            no_ports(host_config);
        }
        let data = match data_folder {
            DataFolder::Volume => Mount {
                target: Some(DATA_DIR.to_owned()),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            // Without a size, tmpfs may grow to half of the host's memory; a run's cluster
            // and its clones take tens of MiB.
            DataFolder::Memory => Mount {
                target: Some(DATA_DIR.to_owned()),
                typ: Some(MountType::TMPFS),
                tmpfs_options: Some(MountTmpfsOptions {
                    mode: Some(0o700),
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        host_config.mounts.get_or_insert_with(Vec::new).push(data);
    }
}

/// Connects and runs `SELECT 1`, within [`PROBE_TIMEOUT`].
async fn probe(options: &PgConnectOptions) -> std::result::Result<(), String> {
    let attempt = async {
        let mut connection = PgConnection::connect_with(options)
            .await
            .map_err(|error| error.to_string())?;
        sqlx::query("SELECT 1")
            .execute(&mut connection)
            .await
            .map_err(|error| error.to_string())?;
        connection.close().await.map_err(|error| error.to_string())
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}
