//! A monitor that polls `/readyz` through a fault and records every response on the ledger's
//! time line.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use harness::ledger::Ledger;
use harness::load::LoadTarget;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Interval between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Timeout of one poll. The app cuts a readiness check off after 3 s, so a response that takes
/// longer is itself a finding.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// Result of one poll of `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadyState {
    /// 200 ready.
    Ready,
    /// 503 not_ready, with the reason.
    NotReady(String),
    /// Another status.
    Unexpected(u16),
    /// No response: refused, reset or timed out.
    NoResponse(String),
}

impl std::fmt::Display for ReadyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready => f.write_str("200 ready"),
            Self::NotReady(reason) => write!(f, "503 not_ready ({reason})"),
            Self::Unexpected(status) => write!(f, "status {status}"),
            Self::NoResponse(error) => write!(f, "no response ({error})"),
        }
    }
}

/// One poll: its send and response times, from the ledger's start, and its result.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Send time.
    pub sent: Duration,
    /// Answer time.
    pub finished: Duration,
    /// The answer.
    pub state: ReadyState,
}

/// A running poller. Stop it with [`ReadinessMonitor::stop`].
pub struct ReadinessMonitor {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ReadinessMonitor {
    /// Starts polling `target`'s `/readyz`, with times taken from `ledger`'s clock.
    pub fn start(target: LoadTarget, ledger: Ledger) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(POLL_TIMEOUT)
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|error| format!("building the /readyz client failed: {error}"))?;
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let (stop, mut stopped) = watch::channel(false);

        let recorded = Arc::clone(&samples);
        let task = tokio::spawn(async move {
            while !*stopped.borrow() {
                let sent = ledger.elapsed();
                let state = poll(&client, &target.url()).await;
                let finished = ledger.elapsed();
                lock(&recorded).push(Sample {
                    sent,
                    finished,
                    state,
                });
                tokio::select! {
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Ok(Self {
            samples,
            stop,
            task,
        })
    }

    /// Returns the samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// Waits until a poll sent at or after `since` returns ready, until `deadline` on the
    /// ledger's clock. Returns the time its response arrived.
    pub async fn wait_until_ready(
        &self,
        ledger: &Ledger,
        since: Duration,
        deadline: Duration,
    ) -> Option<Duration> {
        loop {
            let ready = self
                .samples()
                .into_iter()
                .find(|sample| sample.sent >= since && sample.state == ReadyState::Ready);
            if let Some(sample) = ready {
                return Some(sample.finished);
            }
            if ledger.elapsed() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL_INTERVAL / 2).await;
        }
    }

    /// Stops polling after the poll in flight and returns every sample.
    pub async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the /readyz monitor panicked");
        }
        lock(&self.samples).clone()
    }
}

async fn poll(client: &reqwest::Client, base_url: &str) -> ReadyState {
    let response = match client.get(format!("{base_url}/readyz")).send().await {
        Ok(response) => response,
        Err(error) => return ReadyState::NoResponse(error.to_string()),
    };
    let status = response.status().as_u16();
    let body: Option<serde_json::Value> = response.json().await.ok();
    match status {
        200 => ReadyState::Ready,
        503 => ReadyState::NotReady(
            body.as_ref()
                .and_then(|body| body.get("reason")?.as_str())
                .unwrap_or("no reason")
                .to_owned(),
        ),
        other => ReadyState::Unexpected(other),
    }
}

fn lock(samples: &Mutex<Vec<Sample>>) -> MutexGuard<'_, Vec<Sample>> {
    samples
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
