//! The app container: the app image on the run's network, configured through its environment,
//! published on 127.0.0.1 only, ready when `GET /readyz` returns 200.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testcontainers::bollard::Docker;
use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, Image, ImageExt};

use crate::config::{Config, ImageRef};
use crate::deployment::{DATABASE, Deployment};
use crate::docker::{publish_on, short_id, stopped_before_ready};
use crate::engine_address::EngineAddress;
use crate::error::{Error, Result};
use crate::labels::RunId;
use crate::logs;
use crate::postgres;
use crate::secret::Secret;

/// Path of the env file (LV_ENV_FILE) in an app container started with one. `/tmp` is readable
/// by the app's user.
pub const ENV_FILE: &str = "/tmp/localizevideos.env";

/// Port the app listens on inside the container (LV_LISTEN default).
pub const PORT: u16 = 8080;
/// Interval between readiness probes. The app is ready about 0.2 s after its container starts,
/// and a failed probe costs one refused connection and one container inspection, so probing
/// often saves most of an interval per app start.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// Deadline of one readiness request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running app container of a run.
pub struct AppContainer {
    container: ContainerAsync<GenericImage>,
    name: String,
}

/// Returns the app container name of a run.
pub fn container_name(run_id: &RunId) -> String {
    format!("lv-app-{run_id}")
}

/// Returns the name of an extra app container of a run, `lv-app-<run id>-<instance>`.
pub fn instance_container_name(run_id: &RunId, instance: &str) -> String {
    format!("lv-app-{run_id}-{instance}")
}

/// Builds the app's environment: the database parts (the app reaches Postgres by container name
/// on the run network), the low argon2 cost, RUST_LOG, then `extra` (such as FAILPOINTS), which
/// overrides any of them.
pub fn app_environment(
    config: &Config,
    run_id: &RunId,
    deployment: &Deployment,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut environment = vec![
        ("DB_HOST".to_owned(), postgres::container_name(run_id)),
        ("DB_PORT".to_owned(), postgres::PORT.to_string()),
        ("DB_NAME".to_owned(), DATABASE.to_owned()),
        ("DB_USER".to_owned(), deployment.app.role.clone()),
        (
            "DB_PASSWORD".to_owned(),
            deployment.app.password.expose().to_owned(),
        ),
        (
            "LV_ARGON2_MEMORY_KIB".to_owned(),
            config.argon2.memory_kib.to_string(),
        ),
        (
            "LV_ARGON2_ITERATIONS".to_owned(),
            config.argon2.iterations.to_string(),
        ),
        (
            "LV_ARGON2_PARALLELISM".to_owned(),
            config.argon2.parallelism.to_string(),
        ),
        ("RUST_LOG".to_owned(), config.app_rust_log.clone()),
    ];
    for (key, value) in extra {
        environment.retain(|(existing, _)| existing != key);
        environment.push((key.clone(), value.clone()));
    }
    environment
}

/// Starts an app container named `name` from `image` with `environment`, on `network` with
/// `labels`. It returns once the container runs, so call [`AppContainer::wait_until_ready`]
/// next.
pub async fn start(
    image: &ImageRef,
    name: String,
    network: &str,
    labels: &HashMap<String, String>,
    environment: Vec<(String, String)>,
) -> Result<AppContainer> {
    start_with_env_file(image, name, network, labels, environment, None).await
}

/// Starts an app container as [`start`] does, and, when `env_file` is given, with that text at
/// [`ENV_FILE`] and LV_ENV_FILE naming it. The file is copied into the container before the app
/// starts, owned by root with mode 0644.
pub async fn start_with_env_file(
    image: &ImageRef,
    name: String,
    network: &str,
    labels: &HashMap<String, String>,
    mut environment: Vec<(String, String)>,
    env_file: Option<&Secret>,
) -> Result<AppContainer> {
    let started = Instant::now();
    let mut request = GenericImage::new(image.name.clone(), image.tag.clone())
        .with_exposed_port(PORT.tcp())
        .with_container_name(&name)
        .with_network(network)
        .with_labels(labels.clone())
        .with_host_config_modifier(publish_on(PORT, EngineAddress::from_env()?.bind_ip()));
    if let Some(contents) = env_file {
        request = request.with_copy_to(ENV_FILE, contents.expose().as_bytes().to_vec());
        environment.retain(|(key, _)| key != "LV_ENV_FILE");
        environment.push(("LV_ENV_FILE".to_owned(), ENV_FILE.to_owned()));
    }
    for (key, value) in environment {
        request = request.with_env_var(key, value);
    }
    let container = request
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
        elapsed = ?started.elapsed(),
        "app container started"
    );
    Ok(AppContainer { container, name })
}

impl AppContainer {
    /// Container name, `lv-app-<run id>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Full container id.
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// Returns the image the container runs, as `name:tag`.
    pub fn image(&self) -> String {
        let image = self.container.image();
        format!("{}:{}", image.name(), image.tag())
    }

    /// Returns the testcontainers handle, for stop, start and log access.
    pub fn container(&self) -> &ContainerAsync<GenericImage> {
        &self.container
    }

    /// Consumes the handle without removing the container, which the caller then removes.
    pub(crate) fn into_container(self) -> ContainerAsync<GenericImage> {
        self.container
    }

    /// Queries the host port published for 8080 (it can change after a restart).
    pub async fn host_port(&self) -> Result<u16> {
        self.container
            .get_host_port_ipv4(PORT)
            .await
            .map_err(|source| Error::ContainerStart {
                container: self.name.clone(),
                image: format!(
                    "{}:{}",
                    self.container.image().name(),
                    self.container.image().tag()
                ),
                source: Box::new(source),
            })
    }

    /// Waits until `GET {base_url}/readyz` returns 200, at most `timeout`. On a timeout, or if
    /// the container stops, the error shows the last response and the container's last log
    /// lines.
    pub async fn wait_until_ready(
        &self,
        docker: &Docker,
        base_url: &str,
        timeout: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        let deadline = started + timeout;
        let url = format!("{base_url}/readyz");
        let client = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .build()
            .map_err(|error| Error::Usage(format!("building the HTTP client failed: {error}")))?;

        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let last_error = match client.get(&url).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    tracing::info!(
                        container = %self.name,
                        elapsed = ?started.elapsed(),
                        attempts,
                        "app ready"
                    );
                    return Ok(());
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    format!("GET /readyz returned {status}: {}", body.trim())
                }
                Err(error) => format!("GET /readyz failed: {error}"),
            };

            let stopped = stopped_before_ready(
                docker,
                &self.name,
                self.id(),
                format!("last probe: {last_error}"),
            );
            if let Some(error) = stopped.await {
                return Err(error);
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    container: self.name.clone(),
                    id: short_id(self.id()).to_owned(),
                    timeout,
                    last_error: format!("{attempts} probes, last: {last_error}"),
                    log_lines: logs::TAIL_LINES,
                    logs: logs::tail(docker, self.id(), logs::TAIL_LINES).await,
                });
            }
            tracing::debug!(container = %self.name, attempts, error = %last_error, "app not ready yet");
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}
