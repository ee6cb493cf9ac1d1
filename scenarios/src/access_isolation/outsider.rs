//! Outsider containers: the Postgres image (for its psql) running `sleep`, on a network of the
//! test's choice, labelled with the run's labels so that the run's cleanup removes them. Each
//! connection attempt runs psql inside the container and is classified by psql's message.

use std::collections::HashMap;
use std::time::Duration;

use harness::docker::{publish_no_ports, short_id};
use harness::network;
use harness::run::Run;
use harness::secret::Secret;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::core::ExecCommand;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Seconds psql waits for a TCP connection (PGCONNECT_TIMEOUT). A dropped SYN otherwise waits
/// for the kernel's retries, which take minutes.
const CONNECT_TIMEOUT_SECONDS: &str = "3";
/// Lifetime of an outsider container's `sleep`, far beyond a check's duration. The run's
/// cleanup removes the container before that.
const SLEEP_SECONDS: &str = "900";
/// Deadline for one psql attempt to end, above its connect timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Interval between reads of an exec's exit code after its output has ended.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Phrases of libpq 15 for a connection that never reached a server.
const UNREACHABLE_PHRASES: &[&str] = &[
    "could not translate host name",
    "timeout expired",
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
];

/// An outsider container.
pub struct Outsider {
    container: ContainerAsync<GenericImage>,
    name: String,
    network: String,
}

/// Outcome of a connection attempt from an outsider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The login succeeded and `SELECT 1` ran.
    Connected,
    /// The server responded and rejected the login, with its message (such as `FATAL:  no pg_hba.conf
    /// entry for host ...`).
    Rejected(String),
    /// No server responded: the name did not resolve, or the address was not reachable.
    Unreachable(String),
}

/// A login an outsider tries.
pub struct Login<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Role to log in as.
    pub role: &'a str,
    /// Password to present.
    pub password: &'a Secret,
    /// Database to connect to.
    pub database: &'a str,
}

impl Login<'_> {
    /// Describes the target for a finding, without the password.
    pub fn describe(&self) -> String {
        format!("{}:{} as role {}", self.host, self.port, self.role)
    }
}

/// Creates a network of the run, named `lv-net-<run id>-<suffix>`, with the run's labels.
pub async fn create_network(run: &Run, suffix: &str) -> Result<String, String> {
    let name = format!("{}-{suffix}", network::network_name(run.names_id()));
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".to_owned()),
        labels: Some(run.labels().clone()),
        ..Default::default()
    };
    let response = run
        .docker()
        .create_network(request)
        .await
        .map_err(|error| format!("creating network {name} failed: {error}"))?;
    tracing::info!(network = %name, id = %short_id(&response.id), "outsider network created");
    Ok(name)
}

/// Removes a network that [`create_network`] created. The run's cleanup removes it by label if
/// this fails.
pub async fn remove_network(docker: &Docker, name: &str) {
    match docker.remove_network(name).await {
        Ok(()) => tracing::info!(network = %name, "outsider network removed"),
        Err(error) => {
            tracing::warn!(network = %name, %error, "removing the outsider network failed")
        }
    }
}

impl Outsider {
    /// Starts the outsider `lv-outsider-<run id>-<suffix>` on `network`, from the run's Postgres
    /// image, with the run's labels and no published port.
    pub async fn start(run: &Run, suffix: &str, network: &str) -> Result<Self, String> {
        let image = &run.config().postgres_image;
        let name = format!("lv-outsider-{}-{suffix}", run.names_id());
        let container = GenericImage::new(image.name.clone(), image.tag.clone())
            .with_cmd(["sleep", SLEEP_SECONDS])
            .with_container_name(&name)
            .with_network(network)
            .with_labels(run.labels().clone())
            .with_host_config_modifier(publish_no_ports())
            .start()
            .await
            .map_err(|error| {
                format!("starting outsider container {name} from {image} failed: {error}")
            })?;
        tracing::info!(container = %name, id = %short_id(container.id()), %network, "outsider container started");
        Ok(Self {
            container,
            name,
            network: network.to_owned(),
        })
    }

    /// Container name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Network the container was started on.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Returns the container's IPv4 address on its network.
    pub async fn address(&self, docker: &Docker) -> Result<String, String> {
        network::container_address(docker, self.container.id(), &self.network)
            .await
            .map_err(|error| error.to_string())
    }

    /// Returns the gateway of the outsider's network: the Docker host's address on it.
    pub async fn gateway(&self, docker: &Docker) -> Result<String, String> {
        network::addresses(docker, &self.network)
            .await
            .map(|addresses| addresses.gateway)
            .map_err(|error| error.to_string())
    }

    /// Runs psql with `login` and `SELECT 1`, and classifies the outcome. The password goes
    /// into the exec's environment (PGPASSWORD), not onto the command line or into the
    /// container's configuration. An error means that psql could not run or ended with output
    /// that none of the classes explains.
    pub async fn attempt(&self, login: &Login<'_>) -> Result<Attempt, String> {
        let port = login.port.to_string();
        let command = ExecCommand::new([
            "psql",
            "--no-psqlrc",
            "--no-password",
            "--host",
            login.host,
            "--port",
            &port,
            "--username",
            login.role,
            "--dbname",
            login.database,
            "--command",
            "SELECT 1",
        ])
        .with_env_vars(HashMap::from([
            ("PGPASSWORD", login.password.expose()),
            ("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS),
            ("PGSSLMODE", "disable"),
        ]));

        let run = async {
            let mut result = self
                .container
                .exec(command)
                .await
                .map_err(|error| format!("running psql in {} failed: {error}", self.name))?;
            let stdout = result.stdout_to_vec().await.unwrap_or_default();
            let stderr = result.stderr_to_vec().await.unwrap_or_default();
            let code = loop {
                match result.exit_code().await {
                    Ok(Some(code)) => break code,
                    Ok(None) => tokio::time::sleep(EXIT_POLL_INTERVAL).await,
                    Err(error) => return Err(format!("reading psql's exit code failed: {error}")),
                }
            };
            Ok::<_, String>((code, stdout, stderr))
        };
        let (code, stdout, stderr) =
            tokio::time::timeout(ATTEMPT_TIMEOUT, run)
                .await
                .map_err(|_| {
                    format!(
                        "psql in {} did not end within {ATTEMPT_TIMEOUT:?} ({})",
                        self.name,
                        login.describe()
                    )
                })??;

        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
        let output = harness::redact::redact(output.trim());
        classify(code, &output).ok_or_else(|| {
            format!(
                "psql in {} ({}) exited with {code} and output that is neither a login, a \
                 server's refusal nor a network failure: {output}",
                self.name,
                login.describe()
            )
        })
    }

    /// Starts psql with `login` running `statement` in the background, so that the session
    /// stays open while the statement runs (such as `SELECT pg_sleep(60)`).
    pub async fn hold_session(&self, login: &Login<'_>, statement: &str) -> Result<(), String> {
        let port = login.port.to_string();
        let command = ExecCommand::new([
            "psql",
            "--no-psqlrc",
            "--no-password",
            "--host",
            login.host,
            "--port",
            &port,
            "--username",
            login.role,
            "--dbname",
            login.database,
            "--command",
            statement,
        ])
        .with_env_vars(HashMap::from([
            ("PGPASSWORD", login.password.expose()),
            ("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS),
            ("PGSSLMODE", "disable"),
        ]));
        // The exec keeps running in the container after its result is dropped.
        self.container
            .exec(command)
            .await
            .map(|_| ())
            .map_err(|error| format!("running psql in {} failed: {error}", self.name))
    }
}

/// Classifies psql's exit code and output, or returns `None` for output none of the classes
/// explains.
pub fn classify(code: i64, output: &str) -> Option<Attempt> {
    if code == 0 {
        return Some(Attempt::Connected);
    }
    if let Some(line) = output.lines().find(|line| line.contains("FATAL")) {
        let message = line
            .split_once("FATAL:")
            .map_or(line, |(_, message)| message)
            .trim();
        return Some(Attempt::Rejected(message.to_owned()));
    }
    UNREACHABLE_PHRASES
        .iter()
        .find(|phrase| output.contains(*phrase))
        .map(|_| Attempt::Unreachable(output.lines().next().unwrap_or_default().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_recognises_each_outcome() {
        let cases: &[(i64, &str, Option<Attempt>)] = &[
            (
                0,
                " ?column? \n----------\n        1\n(1 row)",
                Some(Attempt::Connected),
            ),
            (
                2,
                "psql: error: connection to server at \"172.18.0.2\", port 5432 failed: FATAL:  \
                 no pg_hba.conf entry for host \"172.18.0.5\", user \"lv_migrator\", database \
                 \"localizevideos\", no encryption",
                Some(Attempt::Rejected(
                    "no pg_hba.conf entry for host \"172.18.0.5\", user \"lv_migrator\", \
                     database \"localizevideos\", no encryption"
                        .to_owned(),
                )),
            ),
            (
                2,
                "psql: error: could not translate host name \"lv-pg-x\" to address: Name or \
                 service not known",
                Some(Attempt::Unreachable(
                    "psql: error: could not translate host name \"lv-pg-x\" to address: Name \
                     or service not known"
                        .to_owned(),
                )),
            ),
            (
                2,
                "psql: error: connection to server at \"172.18.0.2\", port 5432 failed: \
                 timeout expired",
                Some(Attempt::Unreachable(
                    "psql: error: connection to server at \"172.18.0.2\", port 5432 failed: \
                     timeout expired"
                        .to_owned(),
                )),
            ),
            (1, "psql: error: something new", None),
        ];
        for (code, output, expected) in cases {
            assert_eq!(&classify(*code, output), expected, "output: {output}");
        }
    }
}
