//! The private bridge network of a run: the app reaches Postgres on it by container name.

use std::collections::HashMap;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::NetworkCreateRequest;

use crate::docker::{is_not_found, short_id};
use crate::error::{Error, Result};
use crate::labels::RunId;

/// A Docker network created for one run.
#[derive(Clone, Debug)]
pub struct RunNetwork {
    /// Network name, `lv-net-<run id>`.
    pub name: String,
    /// Network id.
    pub id: String,
}

/// The addresses of a network, as Docker's IPAM assigned them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkAddresses {
    /// Subnet in CIDR notation, such as `172.18.0.0/16`.
    pub subnet: String,
    /// The host's address on the network, such as `172.18.0.1`. Connections from the host to a
    /// container on the network come from it.
    pub gateway: String,
}

/// Returns the network name of a run.
pub fn network_name(run_id: &RunId) -> String {
    format!("lv-net-{run_id}")
}

/// Creates the run's bridge network with the run labels.
pub async fn create(
    docker: &Docker,
    run_id: &RunId,
    labels: &HashMap<String, String>,
) -> Result<RunNetwork> {
    let name = network_name(run_id);
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".to_owned()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let response = docker
        .create_network(request)
        .await
        .map_err(|error| Error::docker(format!("creating network {name}"), error))?;

    tracing::info!(network = %name, id = %short_id(&response.id), "network created");
    Ok(RunNetwork {
        name,
        id: response.id,
    })
}

/// Removes the network. A network that is already gone counts as removed.
pub async fn remove(docker: &Docker, network: &RunNetwork) -> Result<()> {
    match docker.remove_network(&network.id).await {
        Ok(()) => {
            tracing::info!(network = %network.name, id = %short_id(&network.id), "network removed");
            Ok(())
        }
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(Error::docker(
            format!(
                "removing network {} ({})",
                network.name,
                short_id(&network.id)
            ),
            error,
        )),
    }
}

/// Reads the first IPv4 subnet and gateway of network `name` (or id).
pub async fn addresses(docker: &Docker, name: &str) -> Result<NetworkAddresses> {
    let inspected = docker
        .inspect_network(name, None)
        .await
        .map_err(|error| Error::docker(format!("inspecting network {name}"), error))?;
    let configs = inspected
        .ipam
        .and_then(|ipam| ipam.config)
        .unwrap_or_default();
    configs
        .into_iter()
        .find_map(|config| match (config.subnet, config.gateway) {
            (Some(subnet), Some(gateway)) if !subnet.contains(':') => {
                Some(NetworkAddresses { subnet, gateway })
            }
            _ => None,
        })
        .ok_or_else(|| {
            Error::Usage(format!(
                "network {name} has no IPv4 subnet with a gateway; create it with Docker's \
                 default IPAM driver"
            ))
        })
}

/// Returns the IPv4 address of container `container` (name or id) on network `network`.
pub async fn container_address(docker: &Docker, container: &str, network: &str) -> Result<String> {
    let inspected = docker
        .inspect_container(container, None)
        .await
        .map_err(|error| Error::docker(format!("inspecting container {container}"), error))?;
    inspected
        .network_settings
        .and_then(|settings| settings.networks)
        .and_then(|mut networks| networks.remove(network))
        .and_then(|endpoint| endpoint.ip_address)
        .filter(|address| !address.is_empty())
        .ok_or_else(|| {
            Error::Usage(format!(
                "container {container} has no IPv4 address on network {network}; check that it \
                 runs and is attached to that network"
            ))
        })
}
