//! An extra app container of a run, pointed at a database of its own (a clone of the template
//! database), which a test starts and removes itself.

use crate::app::AppContainer;
use crate::docker::short_id;
use crate::engine_address::EngineAddress;
use crate::error::{Error, Result};

/// A running extra app container and the base URL it is reached at.
pub struct AppInstance {
    container: AppContainer,
    url: String,
}

impl AppInstance {
    /// Wraps a started container and reads its published port.
    pub(crate) async fn new(container: AppContainer) -> Result<Self> {
        let port = container.host_port().await?;
        Ok(Self {
            container,
            url: EngineAddress::from_env()?.http_url(port),
        })
    }

    /// Base URL of the app, such as `http://127.0.0.1:49153`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the container.
    pub fn container(&self) -> &AppContainer {
        &self.container
    }

    /// Removes the container and its anonymous volumes.
    pub async fn remove(self) -> Result<()> {
        let name = self.container.name().to_owned();
        let id = short_id(self.container.id()).to_owned();
        self.container
            .into_container()
            .rm()
            .await
            .map_err(|source| Error::ContainerStart {
                container: name.clone(),
                image: "(removal)".to_owned(),
                source: Box::new(source),
            })?;
        tracing::info!(container = %name, %id, "app instance removed");
        Ok(())
    }
}
