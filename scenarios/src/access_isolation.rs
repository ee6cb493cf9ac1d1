//! Check `access.isolation`: the database is reachable only from the application. On a run in
//! the production-like topology (see [`Topology`]), with the app started, it verifies that:
//!
//! - the Postgres container publishes no host port;
//! - an outsider container on another Docker network cannot connect at all, neither by the
//!   Postgres container's name, nor by its address, nor through its network's gateway on a
//!   published port;
//! - pg_hba.conf rejects an outsider container on the app's network that presents the real
//!   passwords of the harness's roles (superuser, migrator, auditor);
//! - pg_stat_activity, sampled throughout the check while the API is walked, shows only the app
//!   role connecting from the app container and the harness's roles connecting from the
//!   network's gateway, where the harness's connections come from.
//!
//! NOTE: pg_hba.conf can tell addresses apart, not containers, so an outsider on the app's
//! network that has the app role's password can log in. The session sampling reports such a
//! session, because its address is not the app container's.

pub mod outsider;
pub mod sessions;

use std::time::Instant;

use harness::check::CheckResult;
use harness::config::{Config, ImageRef};
use harness::durability::Durability;
use harness::network;
use harness::postgres::DataFolder;
use harness::run::Run;
use harness::run::RunOptions;
use harness::secret::Secret;
use harness::topology::Topology;

use crate::redact::redact;
use crate::tour;
use outsider::{Attempt, Login, Outsider};
use sessions::{Sampled, Sampler};

/// Stable check name.
pub const NAME: &str = "access.isolation";

/// Name suffix of the outsider on its own network.
const OTHER_NETWORK_SUFFIX: &str = "other-net";
/// Name suffix of the outsider on the app's network.
const APP_NETWORK_SUFFIX: &str = "app-net";

/// Runs the check on a run whose app is started. It starts two outsider containers and a
/// network, and removes them before it returns.
pub async fn run(run: &Run) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, topology = ?run.topology(), "check started");

    let result = match check(run).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, findings)
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Starts a run of its own in the production-like topology, with `app_image` (or the image
/// the harness picks or builds), migrates it, starts the app, runs the check and shuts the run
/// down. `harness validate` starts such a run as its `isolation` lane instead, so that the run
/// carries the run id of the other lanes.
pub async fn run_production_like(config: Config, app_image: Option<ImageRef>) -> CheckResult {
    let started = Instant::now();
    // The check tests network reachability and pg_hba.conf rules, never what survives a crash,
    // and it never stops Postgres, so its Postgres skips the syncs to disk and keeps its data
    // in memory.
    let options = RunOptions {
        app_image,
        topology: Topology::ProductionLike,
        durability: Durability::TestOnly,
        postgres_data: DataFolder::Memory,
        ..RunOptions::default()
    };
    let mut run = match Run::start_with_config(config, options).await {
        Ok(run) => run,
        Err(error) => {
            let message = format!("starting the production-like run failed: {error}");
            return CheckResult::error(NAME, started.elapsed(), harness::redact::redact(&message));
        }
    };

    let setup = async {
        run.apply_migrations().await?;
        run.start_app().await
    };
    let result = match setup.await {
        Ok(()) => self::run(&run).await,
        Err(error) => {
            let message = format!("preparing the production-like run failed: {error}");
            CheckResult::error(NAME, started.elapsed(), harness::redact::redact(&message))
        }
    };
    if let Err(error) = run.shutdown().await {
        tracing::error!(%error, "shutting down the production-like run failed");
    }
    result
}

/// The addresses the judgement needs.
struct Addresses {
    /// Name of the run network.
    network: String,
    /// The run network's gateway, where the harness's connections come from.
    gateway: String,
    /// The Postgres container's address on the run network.
    postgres: String,
    /// The app container's address on the run network.
    app: String,
}

async fn check(run: &Run) -> Result<(Vec<String>, String), String> {
    let deployment = run.deployment();
    let addresses = addresses(run).await?;
    let mut findings = published_ports(run).await?;

    // Sessions are sampled from here to the end, while the API is walked and the outsiders try
    // to connect.
    let sampler = Sampler::start(deployment).await?;
    let outcome = probe(run, &addresses, &mut findings).await;
    let sampled = sampler.stop().await;
    let (other_network_attempts, rejected_roles) = outcome?;
    let sampled = sampled?;
    if sampled.samples == 0 {
        return Err("pg_stat_activity was never sampled".to_owned());
    }
    findings.extend(judge_sessions(run, &addresses, &sampled));

    let passed = format!(
        "Postgres publishes no host port; an outsider on another network could not reach it \
         ({other_network_attempts} attempts); pg_hba.conf rejected an outsider on network {} \
         as {}; {} samples of pg_stat_activity showed only {} from the app container ({}) and \
         the harness's roles from {} ({} distinct sessions)",
        addresses.network,
        rejected_roles.join(", "),
        sampled.samples,
        deployment.app.role,
        addresses.app,
        addresses.gateway,
        sampled.sessions.len()
    );
    Ok((findings, passed))
}

async fn addresses(run: &Run) -> Result<Addresses, String> {
    let docker = run.docker();
    let network = run
        .network_name()
        .ok_or("the run has no network; start the run before this check")?
        .to_owned();
    let postgres = run
        .postgres()
        .ok_or("the Postgres container is not running; start the run before this check")?;
    let app = run
        .app()
        .ok_or("the app container is not running; start it before this check")?;

    let gateway = network::addresses(docker, &network)
        .await
        .map_err(|error| error.to_string())?
        .gateway;
    let postgres = network::container_address(docker, postgres.id(), &network)
        .await
        .map_err(|error| error.to_string())?;
    let app = network::container_address(docker, app.id(), &network)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Addresses {
        network,
        gateway,
        postgres,
        app,
    })
}

/// Host ports the Postgres container publishes, as `(container port, host address, host port)`.
async fn host_bindings(run: &Run) -> Result<Vec<(String, String, String)>, String> {
    let postgres = run
        .postgres()
        .ok_or("the Postgres container is not running")?;
    let inspected = run
        .docker()
        .inspect_container(postgres.id(), None)
        .await
        .map_err(|error| format!("inspecting container {} failed: {error}", postgres.name()))?;
    let ports = inspected
        .network_settings
        .and_then(|settings| settings.ports)
        .unwrap_or_default();
    let mut bindings = Vec::new();
    for (container_port, host) in ports {
        for binding in host.unwrap_or_default() {
            bindings.push((
                container_port.clone(),
                binding.host_ip.unwrap_or_default(),
                binding.host_port.unwrap_or_default(),
            ));
        }
    }
    bindings.sort();
    Ok(bindings)
}

/// Flags every host port the Postgres container publishes.
async fn published_ports(run: &Run) -> Result<Vec<String>, String> {
    let name = run
        .postgres()
        .map(|postgres| postgres.name())
        .unwrap_or_default();
    let findings = host_bindings(run)
        .await?
        .into_iter()
        .map(|(container_port, host_ip, host_port)| {
            format!(
                "Postgres container {name} publishes {container_port} on host address \
                 {host_ip}:{host_port}; in the production-like topology it publishes no port, \
                 so start the run with Topology::ProductionLike"
            )
        })
        .collect();
    Ok(findings)
}

/// Walks the API and runs the outsiders' attempts. Returns the number of attempts from the
/// other network and the roles that pg_hba.conf rejected on the app's network.
async fn probe(
    run: &Run,
    addresses: &Addresses,
    findings: &mut Vec<String>,
) -> Result<(usize, Vec<String>), String> {
    let deployment = run.deployment();
    let mut walk = tour::walk(deployment, NAME)
        .await
        .map_err(|error| format!("walking the API failed: {error}"))?;
    tour::clean_up(deployment, NAME, &mut walk).await;

    let other_network = outsider::create_network(run, OTHER_NETWORK_SUFFIX).await?;
    let outcome = from_other_network(run, addresses, &other_network, findings).await;
    outsider::remove_network(run.docker(), &other_network).await;
    let attempts = outcome?;

    let rejected = from_app_network(run, addresses, findings).await?;
    Ok((attempts, rejected))
}

/// Tries to reach the Postgres container from an outsider on another network: by name, by its
/// address on the run network, and through the outsider network's gateway on each published
/// host port. Any response from a server is a finding.
async fn from_other_network(
    run: &Run,
    addresses: &Addresses,
    network: &str,
    findings: &mut Vec<String>,
) -> Result<usize, String> {
    let deployment = run.deployment();
    let outsider = Outsider::start(run, OTHER_NETWORK_SUFFIX, network).await?;
    let result = async {
        let postgres_name = run
            .postgres()
            .map(|p| p.name().to_owned())
            .unwrap_or_default();
        let mut targets = vec![
            (postgres_name, harness::postgres::PORT),
            (addresses.postgres.clone(), harness::postgres::PORT),
        ];
        let gateway = outsider.gateway(run.docker()).await?;
        for (_, _, host_port) in host_bindings(run).await? {
            if let Ok(port) = host_port.parse() {
                targets.push((gateway.clone(), port));
            }
        }

        for (host, port) in &targets {
            let login = Login {
                host,
                port: *port,
                role: &deployment.auditor.role,
                password: &deployment.auditor.password,
                database: harness::deployment::DATABASE,
            };
            match outsider.attempt(&login).await? {
                Attempt::Unreachable(_) => {}
                Attempt::Connected => findings.push(format!(
                    "outsider container {} on network {network} logged in to Postgres at {} \
                     and ran SELECT 1; only containers on the run network may reach it",
                    outsider.name(),
                    login.describe()
                )),
                Attempt::Rejected(message) => findings.push(format!(
                    "outsider container {} on network {network} reached Postgres at {} (the \
                     server answered: {}); only containers on the run network may reach it",
                    outsider.name(),
                    login.describe(),
                    redact(deployment, &message)
                )),
            }
        }
        Ok::<_, String>(targets.len())
    }
    .await;
    drop(outsider);
    result
}

/// Presents the real passwords of the harness's roles from an outsider on the app's network,
/// which pg_hba.conf must reject. A control login as the app role with a wrong password shows that
/// the outsider reaches the server at all. Returns the roles rejected by pg_hba.conf.
async fn from_app_network(
    run: &Run,
    addresses: &Addresses,
    findings: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    let deployment = run.deployment();
    let outsider = Outsider::start(run, APP_NETWORK_SUFFIX, &addresses.network).await?;
    let postgres_name = run
        .postgres()
        .map(|postgres| postgres.name().to_owned())
        .unwrap_or_default();
    let result = async {
        let wrong_password = Secret::generate();
        let control = Login {
            host: &postgres_name,
            port: harness::postgres::PORT,
            role: &deployment.app.role,
            password: &wrong_password,
            database: harness::deployment::DATABASE,
        };
        match outsider.attempt(&control).await? {
            Attempt::Rejected(_) => {}
            other => {
                return Err(format!(
                    "the control login from outsider {} ({} with a wrong password) should be \
                     refused by the server, but got {other:?}; without it the other attempts \
                     prove nothing",
                    outsider.name(),
                    control.describe()
                ));
            }
        }

        let mut rejected = Vec::new();
        for credentials in [
            &deployment.superuser,
            &deployment.migrator,
            &deployment.auditor,
        ] {
            let login = Login {
                host: &postgres_name,
                port: harness::postgres::PORT,
                role: &credentials.role,
                password: &credentials.password,
                database: harness::deployment::DATABASE,
            };
            match outsider.attempt(&login).await? {
                Attempt::Rejected(message) if message.contains("pg_hba.conf") => {
                    rejected.push(credentials.role.clone());
                }
                Attempt::Connected => findings.push(format!(
                    "outsider container {} on the app's network {} logged in at {} with the \
                     role's password; pg_hba.conf must accept role {} only from the harness's \
                     address",
                    outsider.name(),
                    addresses.network,
                    login.describe(),
                    credentials.role
                )),
                Attempt::Rejected(message) => findings.push(format!(
                    "outsider container {} on the app's network was refused at {}, but not by \
                     pg_hba.conf (the server answered: {}); pg_hba.conf must reject role {} \
                     from any address but the harness's",
                    outsider.name(),
                    login.describe(),
                    redact(deployment, &message),
                    credentials.role
                )),
                Attempt::Unreachable(message) => {
                    return Err(format!(
                        "outsider {} could not reach Postgres at {} after the control login \
                         did: {message}",
                        outsider.name(),
                        login.describe()
                    ));
                }
            }
        }
        Ok(rejected)
    }
    .await;
    drop(outsider);
    result
}

/// Flags every session that is neither the app role from the app container nor a harness role
/// from the gateway.
fn judge_sessions(run: &Run, addresses: &Addresses, sampled: &Sampled) -> Vec<String> {
    let deployment = run.deployment();
    let harness_roles = [
        &deployment.superuser.role,
        &deployment.migrator.role,
        &deployment.auditor.role,
    ];
    let mut findings = Vec::new();
    for session in &sampled.sessions {
        let address = session.address.as_deref();
        let from_app =
            session.role == deployment.app.role && address == Some(addresses.app.as_str());
        let from_harness =
            harness_roles.contains(&&session.role) && address == Some(addresses.gateway.as_str());
        if from_app || from_harness {
            continue;
        }
        findings.push(format!(
            "pg_stat_activity showed role {} connected from {} (application_name {:?}); only \
             role {} from the app container ({}) and the harness's roles from {} may connect",
            session.role,
            address.unwrap_or("the unix socket"),
            session.application,
            deployment.app.role,
            addresses.app,
            addresses.gateway
        ));
    }
    findings
}
