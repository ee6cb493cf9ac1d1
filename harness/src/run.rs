//! A harness run: its id, network, Postgres container, optional app container and the
//! [`Deployment`] the checks receive, with orderly shutdown and a fallback cleanup in `Drop`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use testcontainers::bollard::Docker;

use crate::app::{self, AppContainer};
use crate::app_image;
use crate::app_instance::AppInstance;
use crate::bootstrap;
use crate::cleanup::{self, CLEANUP_TIMEOUT};
use crate::config::{Config, ImageRef};
use crate::deployment::{
    APP_ROLE, AUDITOR_ROLE, Credentials, Deployment, MIGRATOR_ROLE, RetiredCredentials,
};
use crate::docker::{self, short_id};
use crate::durability::Durability;
use crate::engine_address::EngineAddress;
use crate::error::{Error, Result};
use crate::http::ResponseLog;
use crate::images::{self, BaseImage};
use crate::labels::{self, RunId};
use crate::logs::{self, ContainerLogs};
use crate::migrate;
use crate::network::{self, RunNetwork};
use crate::owner::Owner;
use crate::pg_hba;
use crate::postgres::{self, DataFolder, PostgresContainer, PostgresOptions};
use crate::redact;
use crate::secret::Secret;
use crate::signals;
use crate::topology::Topology;

/// Deadline for an app image build that outlived its cancelled caller to end before the
/// shutdown sweep. The build copies one file onto the runtime image and takes seconds.
pub const BUILD_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start a run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Cargo features the app is built with, such as `failpoints`.
    pub app_features: Vec<String>,
    /// Extra environment for the app container, such as `FAILPOINTS`, which overrides the
    /// harness's values.
    pub app_env: Vec<(String, String)>,
    /// Migrations folder, or `None` for the workspace's migrations/.
    pub migrations_dir: Option<PathBuf>,
    /// Run id, or `None` to generate one. The CLI sets it so that it can clean up by label even when
    /// a signal arrives before [`Run::start`] returns.
    pub run_id: Option<RunId>,
    /// App image to run, or `None` so that [`app_image::ensure_app_image`] picks or builds it.
    pub app_image: Option<ImageRef>,
    /// Network layout: Postgres published on a port of the engine's address (the default), or
    /// production-like, with no published port and restricted pg_hba.conf rules.
    pub topology: Topology,
    /// Whether the containers and network carry the [`labels::KEEP`] label, so that
    /// [`Run::keep`] can leave them running past the process and the reaper of dead runs
    /// leaves them alone.
    pub keep: bool,
    /// Durability settings of the run's Postgres. The default, durable, is what the restart,
    /// chaos and rotation checks need. Choose test-only only for runs without them.
    pub durability: Durability,
    /// Location of the Postgres data folder. The default, a volume, survives the stops and
    /// starts of the restart, crash and error checks. Memory is faster, for runs that never
    /// stop Postgres (see [`DataFolder`]), and stopping such a run's Postgres is a usage error.
    pub postgres_data: DataFolder,
    /// Lane of the run, or `None` for a run that is alone with its run id. Runs that share a
    /// run id each need a different lane. It becomes their [`labels::LANE`] label, so that a
    /// lane's shutdown removes only its own resources. Except for [`MAIN_LANE`], it is also a
    /// suffix of their container and network names, such as `lv-pg-<run id>-<lane>`.
    pub lane: Option<String>,
}

/// The lane whose containers and network keep the run's plain names, such as `lv-pg-<run id>`.
pub const MAIN_LANE: &str = "main";

/// The containers and network that [`Run::keep`] left running, and their addresses.
#[derive(Clone, Debug)]
pub struct KeptRun {
    /// Run id, also the value of the run-id label on everything kept.
    pub run_id: RunId,
    /// Run network name.
    pub network: Option<String>,
    /// Postgres container name.
    pub postgres_container: Option<String>,
    /// Host that the Postgres port is published on: 127.0.0.1, or a remote engine's address.
    pub postgres_host: String,
    /// Published Postgres port, or `None` in the production-like topology.
    pub postgres_port: Option<u16>,
    /// App container name, when the app was started.
    pub app_container: Option<String>,
    /// App URL at the published port, when the app was started.
    pub app_url: Option<String>,
}

/// A running set of containers for one run. End it with [`Run::shutdown`]. If it is dropped
/// instead (a panic, a cancelled future), `Drop` removes everything by the run-id label.
pub struct Run {
    id: RunId,
    /// Id in the names of the run's containers and network: the run id, with the lane as a
    /// suffix for a lane other than [`MAIN_LANE`].
    names_id: RunId,
    config: Config,
    docker: Docker,
    labels: HashMap<String, String>,
    options: RunOptions,
    started_at: DateTime<Utc>,
    network: Option<RunNetwork>,
    postgres: Option<PostgresContainer>,
    app: Option<AppContainer>,
    /// The app container that [`Run::start_app_beside`] replaced, until
    /// [`Run::stop_previous_app`] stops it.
    previous_app: Option<AppContainer>,
    /// Number of app containers started beside a running one, for their names.
    app_generation: u32,
    /// Logs of the app containers that [`Run::start_app`] replaced, oldest first.
    replaced_app_logs: Vec<ContainerLogs>,
    /// Logs of the app instances that [`Run::remove_app_instance`] removed, oldest first. A
    /// mutex, because instances are started and removed through `&Run`.
    instance_logs: std::sync::Mutex<Vec<ContainerLogs>>,
    deployment: Deployment,
    finished: bool,
}

impl Run {
    /// Forgets the container handles without dropping them, because their `Drop` removes the
    /// containers through testcontainers.
    fn forget_container_handles(&mut self) {
        if let Some(app) = self.app.take() {
            std::mem::forget(app.into_container());
        }
        if let Some(app) = self.previous_app.take() {
            std::mem::forget(app.into_container());
        }
        if let Some(postgres) = self.postgres.take() {
            std::mem::forget(postgres.into_container());
        }
    }

    /// Starts a run with the settings from the environment: the network, Postgres (ready), and
    /// the bootstrapped database. Migrations and the app come with [`Run::apply_migrations`]
    /// and [`Run::start_app`].
    pub async fn start(options: RunOptions) -> Result<Self> {
        Self::start_with_config(Config::from_env()?, options).await
    }

    /// Starts a run with the given settings (see [`Run::start`]).
    pub async fn start_with_config(config: Config, options: RunOptions) -> Result<Self> {
        if options.durability == Durability::Durable && options.postgres_data == DataFolder::Memory
        {
            return Err(Error::Usage(
                "durable Postgres settings with the data folder in memory: durable runs crash \
                 and restart Postgres, which empties a tmpfs. Use `DataFolder::Volume`, or \
                 `Durability::TestOnly` for a run that never stops Postgres"
                    .to_owned(),
            ));
        }
        let id = options.run_id.clone().unwrap_or_else(RunId::generate);
        let docker = docker::connect().await?;
        images::ensure_base_image(&docker, &config, BaseImage::Postgres).await?;

        let credentials = |role: &str| {
            let password = Secret::generate();
            redact::register(&password);
            Credentials {
                role: role.to_owned(),
                password,
            }
        };
        let deployment = Deployment {
            app_url: String::new(),
            postgres_host: EngineAddress::from_env()?.host(),
            postgres_port: 0,
            superuser: credentials(postgres::SUPERUSER),
            migrator: credentials(MIGRATOR_ROLE),
            app: credentials(APP_ROLE),
            auditor: credentials(AUDITOR_ROLE),
            migrations_dir: options
                .migrations_dir
                .clone()
                .unwrap_or_else(|| config.migrations_dir()),
            responses: ResponseLog::default(),
            retired: RetiredCredentials::default(),
        };

        let mut labels = labels::run_labels(&id, &Owner::current());
        if options.keep {
            labels.insert(labels::KEEP.to_owned(), "true".to_owned());
        }
        let names_id = match options.lane.as_deref() {
            Some(lane) if lane != MAIN_LANE => {
                labels.insert(labels::LANE.to_owned(), lane.to_owned());
                RunId::from_label(&format!("{id}-{lane}"))
            }
            Some(lane) => {
                labels.insert(labels::LANE.to_owned(), lane.to_owned());
                id.clone()
            }
            None => id.clone(),
        };
        let mut run = Run {
            labels,
            id,
            names_id,
            config,
            docker,
            options,
            started_at: Utc::now(),
            network: None,
            postgres: None,
            app: None,
            previous_app: None,
            app_generation: 0,
            replaced_app_logs: Vec::new(),
            instance_logs: std::sync::Mutex::default(),
            deployment,
            finished: false,
        };
        tracing::info!(run_id = %run.id, lane = ?run.options.lane, "run started");

        // From here on, whatever exists belongs to `run`: a failed step shuts it down, and a
        // cancelled future drops it, which removes everything by label.
        if let Err(error) = run.start_database().await {
            if let Err(cleanup_error) = run.shutdown_in_place().await {
                tracing::error!(error = %cleanup_error, "cleanup after a failed start failed");
            }
            return Err(error);
        }
        Ok(run)
    }

    async fn start_database(&mut self) -> Result<()> {
        let network = network::create(&self.docker, &self.names_id, &self.labels).await?;
        let network_name = network.name.clone();
        self.network = Some(network);

        let started = Instant::now();
        let postgres = postgres::start(
            &self.config.postgres_image,
            &self.names_id,
            &network_name,
            &self.labels,
            &self.deployment.superuser.password,
            &PostgresOptions {
                publish: self.options.topology.publishes_postgres(),
                durability: self.options.durability,
                data_folder: self.options.postgres_data,
                ..PostgresOptions::default()
            },
        )
        .await?;
        self.postgres = Some(postgres);

        let (host, port) = self.postgres_address().await?;
        self.deployment.postgres_host = host;
        self.deployment.postgres_port = port;
        let postgres = self.started_postgres("start_database")?;
        postgres
            .wait_until_ready(
                &self.docker,
                &self.deployment.postgres_host,
                self.deployment.postgres_port,
                self.config.postgres_ready_timeout,
            )
            .await?;
        tracing::info!(
            container = %postgres.name(),
            host = %self.deployment.postgres_host,
            port = self.deployment.postgres_port,
            topology = ?self.options.topology,
            elapsed = ?started.elapsed(),
            "Postgres container start to ready"
        );

        bootstrap::bootstrap(&self.deployment).await?;
        if self.options.topology == Topology::ProductionLike {
            let addresses = network::addresses(&self.docker, &network_name).await?;
            pg_hba::restrict(&self.deployment, &addresses).await?;
        }
        Ok(())
    }

    /// Returns the host and port the harness reaches Postgres on: the engine's address and the
    /// published port, or, in the production-like topology, the container's address on the run network
    /// and 5432. Both can change when the container is stopped and started.
    async fn postgres_address(&self) -> Result<(String, u16)> {
        let postgres = self.started_postgres("postgres_address")?;
        let address = match self.options.topology {
            Topology::PublishedPort => postgres
                .host_port()
                .await
                .and_then(|port| Ok((EngineAddress::from_env()?.host(), port))),
            Topology::ProductionLike => {
                let network = self.network.as_ref().ok_or_else(|| {
                    Error::Usage("postgres_address needs a started run".to_owned())
                })?;
                network::container_address(&self.docker, postgres.id(), &network.name)
                    .await
                    .map(|host| (host, postgres::PORT))
            }
        };
        match address {
            Ok(address) => Ok(address),
            Err(error) => {
                Err(explain_stop(&self.docker, postgres.name(), postgres.id(), error).await)
            }
        }
    }

    /// Applies the migrations folder as lv_migrator and returns the number of migrations.
    pub async fn apply_migrations(&self) -> Result<usize> {
        migrate::apply(&self.deployment).await
    }

    /// Starts the app container (replacing a running one) and waits until `/readyz` returns
    /// 200. The database must already be migrated, or the app never becomes ready. The logs of
    /// a replaced container are kept for [`Run::app_logs`].
    pub async fn start_app(&mut self) -> Result<()> {
        self.launch_app(true, None).await
    }

    /// Starts a new app container as [`Run::start_app`] does, with `contents` as its env file
    /// (see [`app::ENV_FILE`]), whose values override the container's environment.
    pub async fn start_app_with_env_file(&mut self, contents: &Secret) -> Result<()> {
        self.launch_app(true, Some(contents)).await
    }

    /// Replaces the env file of the running app container (see
    /// [`Run::start_app_with_env_file`]) with `contents`. The app reads it at its next start,
    /// such as [`Run::restart_app_in_place`].
    pub async fn write_app_env_file(&self, contents: &Secret) -> Result<()> {
        let app = self
            .app
            .as_ref()
            .ok_or_else(|| Error::Usage("write_app_env_file needs a started app".to_owned()))?;
        let (folder, file_name) = app::ENV_FILE
            .rsplit_once('/')
            .expect("the env file path contains a folder");
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.expose().len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(&mut header, file_name, contents.expose().as_bytes())
            .and_then(|()| archive.finish())
            .map_err(|error| {
                Error::Usage(format!("building the env file archive failed: {error}"))
            })?;
        let body = archive.into_inner().map_err(|error| {
            Error::Usage(format!("building the env file archive failed: {error}"))
        })?;
        let options = testcontainers::bollard::query_parameters::UploadToContainerOptions {
            path: folder.to_owned(),
            ..Default::default()
        };
        self.docker
            .upload_to_container(
                app.id(),
                Some(options),
                testcontainers::bollard::body_full(body.into()),
            )
            .await
            .map_err(|error| {
                Error::docker(
                    format!("writing {} in container {}", app::ENV_FILE, app.name()),
                    error,
                )
            })?;
        tracing::info!(container = %app.name(), path = app::ENV_FILE, "app env file replaced");
        Ok(())
    }

    /// Replaces the app's extra environment with `app_env` and starts a new app container with
    /// it, as [`Run::start_app`] does, but returns as soon as the container runs, without
    /// waiting for `/readyz`. For drills whose app is expected not to become ready.
    pub async fn start_app_with_env_unready(
        &mut self,
        app_env: Vec<(String, String)>,
    ) -> Result<()> {
        self.options.app_env = app_env;
        self.launch_app(false, None).await
    }

    async fn launch_app(
        &mut self,
        wait_until_ready: bool,
        env_file: Option<&Secret>,
    ) -> Result<()> {
        let network_name = match (&self.network, &self.postgres) {
            (Some(network), Some(_)) => network.name.clone(),
            _ => {
                return Err(Error::Usage(
                    "start_app needs a started run with Postgres".to_owned(),
                ));
            }
        };
        if let Some(previous) = self.app.take() {
            let logs = logs::read_all(&self.docker, previous.id(), previous.name()).await?;
            self.replaced_app_logs.push(logs);
            remove_container(previous.name().to_owned(), previous.into_container()).await?;
        }

        let image = self.app_image().await?;
        let environment = app::app_environment(
            &self.config,
            &self.names_id,
            &self.deployment,
            &self.options.app_env,
        );

        let started = Instant::now();
        let name = app::container_name(&self.names_id);
        let app = app::start_with_env_file(
            &image,
            name,
            &network_name,
            &self.labels,
            environment,
            env_file,
        )
        .await?;
        let app = self.app.insert(app);
        let port = match app.host_port().await {
            Ok(port) => port,
            Err(error) => return Err(explain_stop(&self.docker, app.name(), app.id(), error).await),
        };
        self.deployment.app_url = EngineAddress::from_env()?.http_url(port);
        if !wait_until_ready {
            return Ok(());
        }
        app.wait_until_ready(
            &self.docker,
            &self.deployment.app_url,
            self.config.app_ready_timeout,
        )
        .await?;
        tracing::info!(
            container = %app.name(),
            url = %self.deployment.app_url,
            elapsed = ?started.elapsed(),
            "app container start to ready"
        );
        Ok(())
    }

    /// Stops and starts the running app container, which keeps the environment it was created
    /// with, as a process manager's restart without an updated environment does. Re-reads the
    /// published port and returns without waiting for `/readyz`.
    pub async fn restart_app_in_place(&mut self) -> Result<()> {
        let app = self
            .app
            .as_ref()
            .ok_or_else(|| Error::Usage("restart_app_in_place needs a started app".to_owned()))?;
        let failed = |source| Error::ContainerStart {
            container: app.name().to_owned(),
            image: app.image(),
            source: Box::new(source),
        };
        app.container().stop().await.map_err(failed)?;
        app.container().start().await.map_err(failed)?;
        let port = app.host_port().await?;
        self.deployment.app_url = EngineAddress::from_env()?.http_url(port);
        tracing::info!(
            container = %app.name(),
            url = %self.deployment.app_url,
            "app container restarted in place"
        );
        Ok(())
    }

    /// Starts a new app container with `app_env` as its extra environment beside the running
    /// one, and waits until `/readyz` returns 200: the first half of a rolling restart. The new
    /// container becomes the run's app, and the deployment's `app_url` points at it; the old
    /// one keeps serving until [`Run::stop_previous_app`] stops it.
    pub async fn start_app_beside(&mut self, app_env: Vec<(String, String)>) -> Result<()> {
        let Some(network) = &self.network else {
            return Err(Error::Usage(
                "start_app_beside needs a started run".to_owned(),
            ));
        };
        if self.previous_app.is_some() {
            return Err(Error::Usage(
                "start_app_beside: stop the previous app with stop_previous_app first".to_owned(),
            ));
        }

        let image = self.app_image().await?;
        self.app_generation += 1;
        let name =
            app::instance_container_name(&self.names_id, &format!("gen{}", self.app_generation));
        let environment =
            app::app_environment(&self.config, &self.names_id, &self.deployment, &app_env);
        let started = Instant::now();
        let container = app::start(&image, name, &network.name, &self.labels, environment).await?;
        let port = match container.host_port().await {
            Ok(port) => port,
            Err(error) => {
                let error =
                    explain_stop(&self.docker, container.name(), container.id(), error).await;
                remove_container(container.name().to_owned(), container.into_container())
                    .await
                    .ok();
                return Err(error);
            }
        };
        let url = EngineAddress::from_env()?.http_url(port);

        if let Err(error) = container
            .wait_until_ready(&self.docker, &url, self.config.app_ready_timeout)
            .await
        {
            remove_container(container.name().to_owned(), container.into_container())
                .await
                .ok();
            return Err(error);
        }
        tracing::info!(
            container = %container.name(),
            %url,
            elapsed = ?started.elapsed(),
            "app container started beside the running one"
        );

        self.options.app_env = app_env;
        self.previous_app = self.app.replace(container);
        self.deployment.app_url = url;
        Ok(())
    }

    /// Stops the app container that [`Run::start_app_beside`] replaced with SIGTERM, so that
    /// it finishes its requests in flight (Docker sends SIGKILL after its grace period), keeps
    /// its logs for [`Run::app_logs`] and removes it.
    pub async fn stop_previous_app(&mut self) -> Result<()> {
        let Some(previous) = self.previous_app.take() else {
            return Err(Error::Usage(
                "stop_previous_app: no app container was started beside another".to_owned(),
            ));
        };
        if let Err(source) = previous.container().stop().await {
            tracing::warn!(
                container = %previous.name(),
                error = %source,
                "stopping the previous app container failed; removing it"
            );
        }
        let logs = logs::read_all(&self.docker, previous.id(), previous.name()).await?;
        self.replaced_app_logs.push(logs);
        remove_container(previous.name().to_owned(), previous.into_container()).await
    }

    /// Replaces the app's login credentials in the deployment (the app's environment and
    /// [`Deployment::app`]) after a rotation. The previous credentials move to
    /// [`Deployment::retired`], and the new password is registered for redaction.
    pub fn set_app_credentials(&mut self, credentials: Credentials) {
        redact::register(&credentials.password);
        let previous = std::mem::replace(&mut self.deployment.app, credentials);
        self.deployment.retired.push(previous);
    }

    /// Replaces the app's extra environment (see [`RunOptions::app_env`]) with `app_env` and
    /// starts a new app container with it, as [`Run::start_app`] does.
    pub async fn start_app_with_env(&mut self, app_env: Vec<(String, String)>) -> Result<()> {
        self.options.app_env = app_env;
        self.start_app().await
    }

    /// Returns the topology the run was started with.
    pub fn topology(&self) -> Topology {
        self.options.topology
    }

    /// Returns the name of the run's network, once created.
    pub fn network_name(&self) -> Option<&str> {
        self.network.as_ref().map(|network| network.name.as_str())
    }

    /// Returns the extra environment the app container starts with.
    pub fn app_env(&self) -> &[(String, String)] {
        &self.options.app_env
    }

    /// Starts another app container of this run, `lv-app-<run id>-<instance>`, connected to
    /// `database` (its DB_NAME) instead of the application database, and waits until
    /// `/readyz` returns 200. It gets the run's image, features and environment, so that a
    /// test can run against a database clone of its own. The caller removes it with
    /// [`AppInstance::remove`]; the run's shutdown removes it by label otherwise.
    pub async fn start_app_instance(&self, instance: &str, database: &str) -> Result<AppInstance> {
        let Some(network) = &self.network else {
            return Err(Error::Usage(
                "start_app_instance needs a started run".to_owned(),
            ));
        };
        let image = self.app_image().await?;
        let mut extra = self.options.app_env.clone();
        extra.push(("DB_NAME".to_owned(), database.to_owned()));
        let environment =
            app::app_environment(&self.config, &self.names_id, &self.deployment, &extra);

        let started = Instant::now();
        let name = app::instance_container_name(&self.names_id, instance);
        let container = app::start(&image, name, &network.name, &self.labels, environment).await?;
        let instance = AppInstance::new(container).await?;
        instance
            .container()
            .wait_until_ready(&self.docker, instance.url(), self.config.app_ready_timeout)
            .await?;
        tracing::info!(
            container = %instance.container().name(),
            %database,
            url = %instance.url(),
            elapsed = ?started.elapsed(),
            "app instance start to ready"
        );
        Ok(instance)
    }

    /// Reads the logs of an app instance, keeps them for [`Run::app_logs`], and removes the
    /// instance. The container is removed even when its logs cannot be read.
    pub async fn remove_app_instance(&self, instance: AppInstance) -> Result<()> {
        let container = instance.container();
        let logs = logs::read_all(&self.docker, container.id(), container.name()).await;
        let removed = instance.remove().await;
        self.instance_logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(logs?);
        removed
    }

    /// Returns the app image of the run: the one given in the options, or the one
    /// [`app_image::ensure_app_image`] picks or builds.
    async fn app_image(&self) -> Result<ImageRef> {
        match &self.options.app_image {
            Some(image) => Ok(image.clone()),
            None => {
                // Without the lane label: containers inherit the labels of their image, and an
                // image that carried it would put every container made from it in that lane.
                let mut labels = self.labels.clone();
                labels.remove(labels::LANE);
                app_image::ensure_app_image(
                    &self.docker,
                    &self.config,
                    &self.options.app_features,
                    &labels,
                )
                .await
            }
        }
    }

    /// Stops and starts the Postgres container (its data folder stays), re-reads the published
    /// port, which can change, and waits until it is ready again.
    pub async fn restart_postgres(&mut self) -> Result<()> {
        self.stop_postgres().await?;
        self.start_postgres().await
    }

    /// Stops the Postgres container (SIGTERM, then SIGKILL after Docker's grace period). Its
    /// data folder stays, and [`Run::start_postgres`] starts it again.
    pub async fn stop_postgres(&mut self) -> Result<()> {
        let postgres = self.started_postgres("stop_postgres")?;
        postgres.check_survives_stop("stopping")?;
        postgres
            .container()
            .stop()
            .await
            .map_err(|source| self.postgres_error(source))?;
        tracing::info!(container = %postgres.name(), "Postgres container stopped");
        Ok(())
    }

    /// Starts the stopped Postgres container, re-reads the published port, which can change,
    /// and waits until it is ready.
    pub async fn start_postgres(&mut self) -> Result<()> {
        let postgres = self.started_postgres("start_postgres")?;
        postgres.check_survives_stop("starting again")?;
        postgres
            .container()
            .start()
            .await
            .map_err(|source| self.postgres_error(source))?;
        self.refresh_postgres_port().await
    }

    /// Re-reads the address of the Postgres container (its published port, or its address on
    /// the run network in the production-like topology) and waits until Postgres is ready
    /// there. Docker publishes a new port when the container starts again or is reconnected
    /// to its network (Docker 20.10).
    pub async fn refresh_postgres_port(&mut self) -> Result<()> {
        let postgres = self.started_postgres("refresh_postgres_port")?;
        let (host, port) = self.postgres_address().await?;
        postgres
            .wait_until_ready(
                &self.docker,
                &host,
                port,
                self.config.postgres_ready_timeout,
            )
            .await?;
        self.deployment.postgres_host = host;
        self.deployment.postgres_port = port;
        Ok(())
    }

    fn started_postgres(&self, step: &str) -> Result<&PostgresContainer> {
        self.postgres
            .as_ref()
            .ok_or_else(|| Error::Usage(format!("{step} needs a started run")))
    }

    fn postgres_error(&self, source: testcontainers::TestcontainersError) -> Error {
        Error::ContainerStart {
            container: postgres::container_name(&self.names_id),
            image: self.config.postgres_image.to_string(),
            source: Box::new(source),
        }
    }

    /// Reads the whole stdout and stderr of every app container of the run: the instances
    /// that [`Run::remove_app_instance`] removed, the containers [`Run::start_app`] replaced,
    /// oldest first, then the running one.
    pub async fn app_logs(&self) -> Result<Vec<ContainerLogs>> {
        let mut all = self
            .instance_logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        all.extend(self.replaced_app_logs.iter().cloned());
        if let Some(previous) = &self.previous_app {
            all.push(logs::read_all(&self.docker, previous.id(), previous.name()).await?);
        }
        if let Some(app) = &self.app {
            all.push(logs::read_all(&self.docker, app.id(), app.name()).await?);
        }
        Ok(all)
    }

    /// Reads the whole stdout and stderr of the Postgres container: the server log.
    pub async fn postgres_logs(&self) -> Result<ContainerLogs> {
        let postgres = self.started_postgres("postgres_logs")?;
        logs::read_all(&self.docker, postgres.id(), postgres.name()).await
    }

    /// Returns the run id.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// Returns the id in the names of the run's containers and network: the run id, followed by
    /// `-<lane>` for a lane other than [`MAIN_LANE`].
    pub fn names_id(&self) -> &RunId {
        &self.names_id
    }

    /// Returns the lane of the run (see [`RunOptions::lane`]).
    pub fn lane(&self) -> Option<&str> {
        self.options.lane.as_deref()
    }

    /// Returns the start time of the run.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Returns the durability settings of the run's Postgres.
    pub fn durability(&self) -> Durability {
        self.options.durability
    }

    /// Returns the location of the run's Postgres data folder.
    pub fn postgres_data(&self) -> DataFolder {
        self.options.postgres_data
    }

    /// Returns the settings the run uses.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Returns the Docker client the run uses.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Returns the labels on every resource of the run.
    pub fn labels(&self) -> &HashMap<String, String> {
        &self.labels
    }

    /// Returns the deployment that checks receive. `app_url` is empty until [`Run::start_app`] succeeds.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// Returns the Postgres container, once started.
    pub fn postgres(&self) -> Option<&PostgresContainer> {
        self.postgres.as_ref()
    }

    /// Returns the app container, once started.
    pub fn app(&self) -> Option<&AppContainer> {
        self.app.as_ref()
    }

    /// Ends the run without removing anything: the network, Postgres and the app containers
    /// keep running after this process exits, for inspection, and the returned [`KeptRun`]
    /// names their addresses. Needs a run started with [`RunOptions::keep`], whose label
    /// keeps the reaper of dead runs away; `harness gc --run <run id>` removes it.
    pub fn keep(mut self) -> Result<KeptRun> {
        if !self.options.keep {
            return Err(Error::Usage(
                "Run::keep needs a run started with RunOptions::keep".to_owned(),
            ));
        }
        let kept = KeptRun {
            run_id: self.id.clone(),
            network: self.network.as_ref().map(|network| network.name.clone()),
            postgres_container: self
                .postgres
                .as_ref()
                .map(|postgres| postgres.name().to_owned()),
            postgres_host: self.deployment.postgres_host.clone(),
            postgres_port: match self.options.topology {
                Topology::PublishedPort => Some(self.deployment.postgres_port),
                Topology::ProductionLike => None,
            },
            app_container: self.app.as_ref().map(|app| app.name().to_owned()),
            app_url: self.app.as_ref().map(|_| self.deployment.app_url.clone()),
        };
        // The handles' `Drop` would remove their containers, so they are forgotten, and
        // `finished` turns the run's own fallback cleanup off.
        self.finished = true;
        self.forget_container_handles();
        tracing::info!(run_id = %self.id, "run kept running for inspection");
        Ok(kept)
    }

    /// Removes the app container, then Postgres, then the network, logging each removal with
    /// its id, and finally sweeps by label for anything left. Returns an error if something
    /// remains.
    pub async fn shutdown(mut self) -> Result<()> {
        self.shutdown_in_place().await
    }

    async fn shutdown_in_place(&mut self) -> Result<()> {
        // The containers go at the same time: each removal waits on Docker for a tenth of a
        // second or more, and the network can go only after all of them.
        let previous_app = self.previous_app.take().map(|app| {
            let name = app.name().to_owned();
            remove_container(name, app.into_container())
        });
        let app = self.app.take().map(|app| {
            let name = app.name().to_owned();
            remove_container(name, app.into_container())
        });
        let postgres = self.postgres.take().map(|postgres| {
            let name = postgres.name().to_owned();
            remove_container(name, postgres.into_container())
        });
        let removals = futures::future::join3(
            futures::future::OptionFuture::from(previous_app),
            futures::future::OptionFuture::from(app),
            futures::future::OptionFuture::from(postgres),
        )
        .await;
        let mut first_error = [removals.0, removals.1, removals.2]
            .into_iter()
            .flatten()
            .find_map(Result::err);
        if let Some(network) = self.network.take()
            && let Err(error) = network::remove(&self.docker, &network).await
        {
            first_error.get_or_insert(error);
        }

        // An app image build whose caller was cancelled is still running. Once it ends, it has
        // tagged its image, so the sweep cannot miss an unfinished one.
        if !app_image::wait_for_builds(BUILD_WAIT_TIMEOUT).await {
            tracing::warn!(
                run_id = %self.id,
                "an app image build did not end within {BUILD_WAIT_TIMEOUT:?}; `harness gc` \
                 removes what it leaves once this process has exited"
            );
        }

        // Anything the steps above missed (a container left by a failed start, a network that
        // was still in use, the container that pins the app image, an unfinished image) is
        // removed by label. A lane removes only what carries its lane label, so the image pin
        // and unfinished images, which carry the run id alone, are left to the caller's
        // cleanup by run id.
        let swept = match self.options.lane.as_deref() {
            Some(lane) => cleanup::remove_lane(&self.docker, &self.id, lane, CLEANUP_TIMEOUT).await,
            None => cleanup::remove_run(&self.docker, &self.id, CLEANUP_TIMEOUT).await,
        };
        if let Ok(removed) = &swept {
            for entry in removed {
                tracing::info!(run_id = %self.id, "removed {entry}");
            }
        }
        self.finished = true;
        match (swept, first_error) {
            (Err(error), _) => Err(error),
            (Ok(removed), Some(error)) => {
                tracing::warn!(%error, removed = removed.len(), "a removal step failed; the label sweep removed what was left");
                Ok(())
            }
            (Ok(_), None) => {
                tracing::info!(run_id = %self.id, "run shut down");
                Ok(())
            }
        }
    }
}

/// Returns the container's exit as the error when the container has stopped, because a
/// container that exits at once has no published port, and `error` alone hides why.
async fn explain_stop(docker: &Docker, name: &str, id: &str, error: Error) -> Error {
    let last_error = format!("reading its published port failed: {error}");
    docker::stopped_before_ready(docker, name, id, last_error)
        .await
        .unwrap_or(error)
}

async fn remove_container<I: testcontainers::Image>(
    name: String,
    container: testcontainers::ContainerAsync<I>,
) -> Result<()> {
    let id = short_id(container.id()).to_owned();
    container
        .rm()
        .await
        .map_err(|source| Error::ContainerStart {
            container: name.clone(),
            image: "(removal)".to_owned(),
            source: Box::new(source),
        })?;
    tracing::info!(container = %name, %id, "container removed");
    Ok(())
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // After SIGINT or SIGTERM, a cancelled run is expected and the caller says so.
        match signals::received() {
            Some(signal) => tracing::debug!(
                run_id = %self.id,
                "run cancelled by {signal}; removing its containers and network by label"
            ),
            None => tracing::warn!(
                run_id = %self.id,
                "run dropped without shutdown; removing its containers and network by label"
            ),
        }
        let swept = match self.options.lane.as_deref() {
            Some(lane) => cleanup::remove_lane_blocking(&self.id, lane),
            None => cleanup::remove_run_blocking(&self.id),
        };
        match swept {
            Ok(removed) => {
                for entry in removed {
                    tracing::info!(run_id = %self.id, "removed {entry}");
                }
            }
            Err(error) => tracing::error!(%error, "fallback cleanup failed; run `harness gc`"),
        }
        // The handles' own `Drop` would remove their containers again through testcontainers'
        // shared client, whose pooled connections can belong to the runtime that is blocked in
        // this `Drop`. Their containers are gone, so the handles are forgotten instead.
        self.forget_container_handles();
    }
}

/// Starts a run, runs `body` with it, and always shuts the run down: after `body` returns,
/// after it panics (the panic is resumed after the shutdown), and on SIGINT or SIGTERM (then
/// [`Error::Interrupted`] is returned).
///
/// # Example
///
/// ```no_run
/// # async fn example() -> harness::error::Result<()> {
/// use harness::run::{RunOptions, with_run};
///
/// let url = with_run(RunOptions::default(), async |run| {
///     run.apply_migrations().await?;
///     run.start_app().await?;
///     Ok::<_, harness::error::Error>(run.deployment().app_url.clone())
/// })
/// .await??;
/// # Ok(())
/// # }
/// ```
pub async fn with_run<T>(options: RunOptions, body: impl AsyncFnOnce(&mut Run) -> T) -> Result<T> {
    let mut run = tokio::select! {
        run = Run::start(options) => run?,
        signal = signals::interrupted() => return Err(Error::Interrupted { signal }),
    };

    let outcome = tokio::select! {
        outcome = AssertUnwindSafe(body(&mut run)).catch_unwind() => Ok(outcome),
        signal = signals::interrupted() => Err(signal),
    };
    let shutdown = run.shutdown().await;

    match outcome {
        Ok(Ok(value)) => shutdown.map(|()| value),
        Ok(Err(panic)) => {
            if let Err(error) = shutdown {
                tracing::error!(%error, "shutdown after a panic failed");
            }
            std::panic::resume_unwind(panic)
        }
        Err(signal) => {
            shutdown?;
            Err(Error::Interrupted { signal })
        }
    }
}
