//! A pool of template clones made ahead of time: a background task keeps up to `capacity`
//! clones ready, so that a test takes one without waiting for `CREATE DATABASE`.
//!
//! The filler task clones, then waits for room in a bounded channel, so at most `capacity`
//! clones wait in the channel and one more may wait in the task. A clone that no test takes is
//! dropped by [`ClonePool::shutdown`]; without it, the clone stays in the run's Postgres
//! container until the container is removed.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::deployment::Deployment;
use crate::error::{Error, Result};
use crate::template::{DatabaseClone, TemplateDatabase, check_identifier, connect_server};

/// Clones of one template, made in the background.
pub struct ClonePool {
    receiver: mpsc::Receiver<Result<DatabaseClone>>,
    filler: JoinHandle<()>,
    deployment: Deployment,
    template: String,
}

impl ClonePool {
    /// Starts the filler task, which clones `template` as `localizevideos_<prefix>_<random>`
    /// until `capacity` clones are ready, and again after each [`ClonePool::take`]. `capacity`
    /// must be at least 1, and `prefix` lowercase letters, digits and underscores. Call it
    /// inside a tokio runtime.
    pub fn start(
        template: Arc<TemplateDatabase>,
        deployment: Deployment,
        prefix: &str,
        capacity: usize,
    ) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::Usage(
                "the capacity of a clone pool must be at least 1".to_owned(),
            ));
        }
        check_identifier("clone prefix", prefix)?;
        let (sender, receiver) = mpsc::channel(capacity);
        let name = template.name().to_owned();
        let filler = tokio::spawn(fill(
            template,
            deployment.clone(),
            prefix.to_owned(),
            sender,
        ));
        tracing::info!(template = %name, capacity, "clone pool started");
        Ok(Self {
            receiver,
            filler,
            deployment,
            template: name,
        })
    }

    /// Returns the number of clones waiting in the channel, not counting the one the filler
    /// task may hold while the channel is full.
    pub fn ready(&self) -> usize {
        self.receiver.len()
    }

    /// Takes a ready clone, or waits for the next one when none is ready. The caller owns the
    /// clone and drops it with [`DatabaseClone::drop`].
    pub async fn take(&mut self) -> Result<DatabaseClone> {
        match self.receiver.recv().await {
            Some(clone) => clone,
            None => Err(Error::Usage(format!(
                "the clone pool of template {} has stopped after an earlier error",
                self.template
            ))),
        }
    }

    /// Stops the filler task, waits for it, and drops every clone no test took. Returns how
    /// many clones it dropped.
    pub async fn shutdown(mut self) -> Result<usize> {
        let started = Instant::now();

        // Closing the channel makes the filler's next send fail, and the filler then drops
        // the clone it has made itself.
        self.receiver.close();
        let mut dropped = 0;
        let mut first_error = None;
        while let Some(clone) = self.receiver.recv().await {
            let result = match clone {
                Ok(clone) => clone.drop(&self.deployment).await.map(|()| dropped += 1),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        if let Err(error) = self.filler.await {
            tracing::error!(%error, template = %self.template, "clone pool filler task failed");
        }

        tracing::info!(
            template = %self.template,
            dropped,
            elapsed = ?started.elapsed(),
            "clone pool stopped"
        );
        match first_error {
            Some(error) => Err(error),
            None => Ok(dropped),
        }
    }
}

/// Clones the template and hands each clone to the channel until the pool closes it or a clone
/// fails. A failure is sent to the next [`ClonePool::take`] and ends the task.
async fn fill(
    template: Arc<TemplateDatabase>,
    deployment: Deployment,
    prefix: String,
    sender: mpsc::Sender<Result<DatabaseClone>>,
) {
    // One superuser connection for every clone, opened by the first one.
    let mut server = None;
    loop {
        let clone = match server.as_mut() {
            Some(connection) => template.clone_on(connection, &prefix).await,
            None => match connect_server(&deployment).await {
                Ok(connection) => template.clone_on(server.insert(connection), &prefix).await,
                Err(error) => Err(error),
            },
        };
        let failed = clone.is_err();
        if let Err(rejected) = sender.send(clone).await {
            if let Ok(clone) = rejected.0
                && let Err(error) = clone.drop(&deployment).await
            {
                tracing::error!(%error, "dropping a clone after the pool stopped failed");
            }
            return;
        }
        if failed {
            tracing::error!(template = %template.name(), "cloning failed, so the clone pool stops");
            return;
        }
    }
}
