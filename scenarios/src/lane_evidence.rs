//! Evidence from another lane of the run, for the leak checks. `harness validate` runs the
//! rotation, restart, chaos and isolation checks in lanes with their own Postgres and app. The
//! leak checks run in the main lane, so each of those lanes hands them its logs, responses,
//! role passwords and stored rows before it shuts down.

use std::sync::Arc;
use std::time::Duration;

use harness::http::RecordedResponse;
use harness::logs::ContainerLogs;
use harness::run::Run;
use harness::scan::Canary;
use harness::secret::Secret;
use uuid::Uuid;

use crate::leaks_credentials;
use crate::redact::redact;

/// Deadline for reading the lane's stored hashes and `audit_log` rows, so that a Postgres that
/// a fault left frozen does not hold the leak checks up. The pool's own acquire timeout covers
/// only the connection, not the queries.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs, responses, secrets and stored rows of one lane, read before the lane shut down.
#[derive(Clone, Debug)]
pub struct LaneEvidence {
    /// Lane name, such as `rotation`.
    pub lane: String,
    /// Logs of every app container the lane started, replaced and removed ones included.
    pub app_logs: Vec<ContainerLogs>,
    /// The lane's Postgres server log.
    pub postgres_logs: ContainerLogs,
    /// Every response the lane's clients received.
    pub responses: Vec<Arc<RecordedResponse>>,
    /// The lane's role passwords, the ones its rotations retired included.
    pub role_passwords: Vec<Canary>,
    /// Password hashes stored in the lane's `users` table, labelled by user id.
    pub password_hashes: Vec<Canary>,
    /// Every row of the lane's `audit_log`, as JSON, with its id.
    pub audit_rows: Vec<(i64, serde_json::Value)>,
}

impl LaneEvidence {
    /// Reads the evidence of the lane that `run` is. Call it after the lane's checks and
    /// before its shutdown, while its containers and database exist.
    pub async fn collect(run: &Run) -> Result<Self, String> {
        let lane = run.lane().unwrap_or("(no lane)").to_owned();
        let deployment = run.deployment();
        let app_logs = run.app_logs().await.map_err(|error| {
            format!("reading the app container logs of lane {lane} failed: {error}")
        })?;
        let postgres_logs = run.postgres_logs().await.map_err(|error| {
            format!("reading the Postgres server log of lane {lane} failed: {error}")
        })?;

        let database_error = |error: sqlx::Error| {
            format!(
                "reading the database of lane {lane} as the auditor role failed: {}",
                redact(deployment, &error.to_string())
            )
        };
        let read = async {
            let pool = deployment.pool(&deployment.auditor).await?;
            let stored: Result<Vec<(Uuid, String)>, _> =
                sqlx::query_as("SELECT id, password_hash FROM users")
                    .fetch_all(&pool)
                    .await;
            let audit_rows: Result<Vec<(i64, serde_json::Value)>, _> =
                sqlx::query_as("SELECT id, to_jsonb(audit_log) FROM audit_log ORDER BY id")
                    .fetch_all(&pool)
                    .await;
            pool.close().await;
            Ok::<_, sqlx::Error>((stored?, audit_rows?))
        };
        let (stored, audit_rows) = tokio::time::timeout(DATABASE_TIMEOUT, read)
            .await
            .map_err(|_| {
                format!(
                    "reading the database of lane {lane} as the auditor role timed out after \
                     {DATABASE_TIMEOUT:?}"
                )
            })?
            .map_err(database_error)?;
        let password_hashes = stored
            .into_iter()
            .filter(|(_, hash)| hash.len() >= harness::scan::MIN_CANARY_LEN)
            .map(|(id, hash)| {
                Canary::new(
                    format!("password hash of user {id} in lane {lane}"),
                    Secret::new(hash),
                )
            })
            .collect();

        Ok(Self {
            app_logs,
            postgres_logs,
            responses: deployment.responses.responses(),
            role_passwords: leaks_credentials::canaries(deployment),
            password_hashes,
            audit_rows,
            lane,
        })
    }
}
