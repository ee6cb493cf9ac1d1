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
