//! The pg_stat_activity sampler: while the check runs, it reads the client sessions every
//! 200 ms as the superuser and keeps each distinct role, address and application name.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harness::deployment::Deployment;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::task::JoinHandle;

/// Interval between samples. A session shorter than this can be missed; the app's pool keeps
/// its connections open, so the app's sessions are seen.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// One client session as pg_stat_activity showed it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    /// Role name.
    pub role: String,
    /// Client address, or `None` for a unix-socket session.
    pub address: Option<String>,
    /// `application_name` the client set.
    pub application: String,
}

/// Everything the sampler saw.
pub struct Sampled {
    /// Distinct sessions.
    pub sessions: BTreeSet<Session>,
    /// Number of samples taken.
    pub samples: usize,
}

/// A running sampler. Stop it with [`Sampler::stop`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Result<Sampled, String>>,
}

const QUERY: &str = "SELECT usename::text, host(client_addr), coalesce(application_name, '') \
                     FROM pg_catalog.pg_stat_activity \
                     WHERE backend_type = 'client backend' AND usename IS NOT NULL";

impl Sampler {
    /// Connects as the superuser and starts sampling in a task.
    pub async fn start(deployment: &Deployment) -> Result<Self, String> {
        let options: PgConnectOptions = deployment
            .connect_options(&deployment.superuser)
            .disable_statement_logging();
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|error| {
                format!(
                    "connecting as the superuser to sample pg_stat_activity failed: {}",
                    harness::redact::redact(&error.to_string())
                )
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task =
            tokio::spawn(async move {
                let mut sampled = Sampled {
                    sessions: BTreeSet::new(),
                    samples: 0,
                };
                // One more sample after the stop request, so that the last traffic is seen.
                loop {
                    let last = stopped.load(Ordering::SeqCst);
                    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(QUERY)
                        .fetch_all(&mut connection)
                        .await
                        .map_err(|error| format!("sampling pg_stat_activity failed: {error}"))?;
                    sampled.samples += 1;
                    sampled.sessions.extend(rows.into_iter().map(
                        |(role, address, application)| Session {
                            role,
                            address,
                            application,
                        },
                    ));
                    if last {
                        break;
                    }
                    tokio::time::sleep(SAMPLE_INTERVAL).await;
                }
                connection.close().await.ok();
                Ok(sampled)
            });
        Ok(Self { stop, task })
    }

    /// Stops sampling and returns what was seen.
    pub async fn stop(self) -> Result<Sampled, String> {
        self.stop.store(true, Ordering::SeqCst);
        self.task
            .await
            .map_err(|error| format!("the pg_stat_activity sampler failed: {error}"))?
    }
}
