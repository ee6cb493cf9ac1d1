//! The server-side faults, made real: a statement that runs into the app's statement timeout, a
//! pool whose every connection is busy, and a database that is down.
//!
//! The app runs with small limits while the catalogue is sent ([`FAULT_APP_ENV`]), so each fault
//! takes about a second or four. A table lock held by the harness makes the app's statements
//! wait: one waiting statement hits the statement timeout, and two hold both pool connections.

use std::time::{Duration, Instant};

use harness::deployment::Deployment;
use harness::run::Run;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

use super::catalogue::ErrorClass;
use crate::redact::redact;

/// App settings while the catalogue runs: two pool connections, a 1 s wait for a connection and
/// a 4 s statement timeout. The acquire timeout is the shorter, so that a request fails on the
/// exhausted pool while the two blocked statements still wait.
pub const FAULT_APP_ENV: [(&str, &str); 3] = [
    ("LV_DB_MAX_CONNECTIONS", "2"),
    ("LV_DB_ACQUIRE_TIMEOUT_MS", "1000"),
    ("LV_DB_STATEMENT_TIMEOUT_MS", "4000"),
];

/// Number of pool connections in [`FAULT_APP_ENV`].
pub const POOL_SIZE: usize = 2;

/// Deadline for taking the table lock, and for the app's statements to queue behind it.
const LOCK_DEADLINE: Duration = Duration::from_secs(10);
/// Interval between looks at `pg_stat_activity`.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The table the lock is taken on: every catalogue read of a fault goes to it.
const LOCKED_TABLE: &str = "users";

/// An `ACCESS EXCLUSIVE` lock on [`LOCKED_TABLE`], held by the harness as the table's owner in
/// an open transaction. Every statement of the app on that table waits for it.
pub struct TableLock {
    connection: PgConnection,
}

impl TableLock {
    /// Takes the lock as the migrator role, which owns the table.
    pub async fn acquire(deployment: &Deployment) -> Result<Self, String> {
        let options = deployment
            .connect_options(&deployment.migrator)
            .disable_statement_logging();
        let take = async {
            let mut connection = PgConnection::connect_with(&options).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "BEGIN; LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE"
            )))
            .execute(&mut connection)
            .await?;
            Ok::<_, sqlx::Error>(connection)
        };
        match tokio::time::timeout(LOCK_DEADLINE, take).await {
            Ok(Ok(connection)) => Ok(Self { connection }),
            Ok(Err(error)) => Err(format!(
                "locking table {LOCKED_TABLE} as the migrator role failed: {}",
                redact(deployment, &error.to_string())
            )),
            Err(_) => Err(format!(
                "locking table {LOCKED_TABLE} did not finish within {LOCK_DEADLINE:?}; another \
                 session holds a lock on it"
            )),
        }
    }

    /// Ends the transaction, which releases the lock.
    pub async fn release(mut self) {
        if let Err(error) = sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.connection)
            .await
        {
            tracing::warn!(%error, "releasing the table lock failed; closing its connection");
        }
        if let Err(error) = self.connection.close().await {
            tracing::debug!(%error, "closing the lock connection failed");
        }
    }
}

/// Waits until `count` sessions of the app's role wait for a lock, as `pg_stat_activity` shows
/// them to the superuser, at most [`LOCK_DEADLINE`].
pub async fn wait_for_lock_waiters(deployment: &Deployment, count: usize) -> Result<(), String> {
    let options = deployment
        .connect_options(&deployment.superuser)
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(|error| {
            format!(
                "connecting as the superuser to watch pg_stat_activity failed: {}",
                redact(deployment, &error.to_string())
            )
        })?;

    let deadline = Instant::now() + LOCK_DEADLINE;
    let mut waiting = 0;
    while Instant::now() < deadline {
        let seen: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE usename = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&deployment.app.role)
        .fetch_one(&mut connection)
        .await
        .map_err(|error| format!("reading pg_stat_activity failed: {error}"))?;
        waiting = seen as usize;
        if waiting >= count {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let _ = connection.close().await;

    if waiting >= count {
        Ok(())
    } else {
        Err(format!(
            "only {waiting} of {count} app sessions waited for the lock on {LOCKED_TABLE} \
             within {LOCK_DEADLINE:?}, so the pool could not be exhausted"
        ))
    }
}

/// Stops Postgres for the duration of `request`, then starts it again and waits until the app
/// is ready. Returns what `request` returned.
pub async fn with_database_stopped<T>(
    run: &mut Run,
    request: impl AsyncFnOnce() -> T,
) -> Result<T, String> {
    run.stop_postgres()
        .await
        .map_err(|error| format!("stopping Postgres failed: {error}"))?;
    let outcome = request().await;
    run.start_postgres()
        .await
        .map_err(|error| format!("starting Postgres again failed: {error}"))?;

    let app = run.app().ok_or("the app container is gone")?;
    app.wait_until_ready(
        run.docker(),
        &run.deployment().app_url,
        run.config().app_ready_timeout,
    )
    .await
    .map_err(|error| format!("the app did not become ready after Postgres restarted: {error}"))?;
    Ok(outcome)
}

/// Text the app's log must show as the cause of a server fault's `request failed` line. The
/// app's database errors carry their SQLSTATE, and sqlx 0.9 names a pool timeout "pool timed
/// out while waiting for an open connection".
fn expected_cause(class: ErrorClass) -> Option<&'static str> {
    match class {
        ErrorClass::StatementTimeout => Some("57014"),
        ErrorClass::PoolExhausted => Some("pool timed out"),
        _ => None,
    }
}

/// Checks that the app logged `request failed` for `request_id` with the cause that proves the
/// fault of `class` happened. Returns a description of what is missing, or `None`.
pub fn missing_cause(class: ErrorClass, request_id: &str, app_stdout: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(app_stdout);
    let causes: Vec<String> = text
        .lines()
        .filter(|line| line.contains(request_id) && line.contains("request failed"))
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|json| {
                    json.get("cause")
                        .and_then(|cause| cause.as_str().map(str::to_owned))
                })
                .unwrap_or_default()
        })
        .collect();

    if causes.is_empty() {
        return Some(format!(
            "the app logged no `request failed` line for request id {request_id}, so the {class} \
             fault was not what failed the request"
        ));
    }
    let expected = expected_cause(class)?;
    if causes.iter().any(|cause| cause.contains(expected)) {
        None
    } else {
        Some(format!(
            "the app's log for request id {request_id} names no cause containing {expected:?}, \
             so the {class} fault was not what failed the request"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        r#"{"level":"ERROR","code":"unavailable","cause":"Unavailable database error: error returned from database: canceling statement due to statement timeout (SQLSTATE 57014, constraint none)","message":"request failed","span":{"request_id":"rid-timeout"}}"#,
        "\n",
        r#"{"level":"ERROR","code":"unavailable","cause":"Unavailable database error: pool timed out while waiting for an open connection","message":"request failed","span":{"request_id":"rid-pool"}}"#,
        "\n",
    );

    #[test]
    fn statement_timeout_cause_found() {
        let missing = missing_cause(ErrorClass::StatementTimeout, "rid-timeout", LOG.as_bytes());

        assert_eq!(missing, None);
    }

    #[test]
    fn pool_cause_found() {
        let missing = missing_cause(ErrorClass::PoolExhausted, "rid-pool", LOG.as_bytes());

        assert_eq!(missing, None);
    }

    #[test]
    fn wrong_cause_reported() {
        let missing = missing_cause(ErrorClass::PoolExhausted, "rid-timeout", LOG.as_bytes());

        let missing = missing.expect("a statement timeout is not a pool timeout");
        assert!(missing.contains("pool timed out"), "{missing}");
    }

    #[test]
    fn absent_line_reported() {
        let missing = missing_cause(ErrorClass::DatabaseUnreachable, "rid-other", LOG.as_bytes());

        let missing = missing.expect("no line names rid-other");
        assert!(missing.contains("no `request failed` line"), "{missing}");
    }
}
