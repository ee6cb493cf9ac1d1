//! Repro bundles of a run's failed checks: each gets the run's container logs and schema,
//! gathered once while the containers still exist, and the check's own seed and files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::check::{CheckResult, Status};
use harness::logs::ContainerLogs;
use harness::repro::{Bundle, BundleError, LogFile, ReplayCommand, RunInputs};
use harness::run::Run;
use sqlx::{Connection, PgConnection};

use crate::schema::describe_schema;

/// Deadline for reading the schema description, so that a Postgres that a drill left frozen
/// or disconnected does not hold the run up. Reading it takes well under a second otherwise.
const SCHEMA_TIMEOUT: Duration = Duration::from_secs(15);

/// Returns whether `result` gets a repro bundle: a fail or an error.
pub fn needs_bundle(result: &CheckResult) -> bool {
    matches!(result.status, Status::Fail | Status::Error)
}

/// Writes a bundle under `report_dir` for every failed check in `checks`, and returns the
/// folder or the error of each, named by check, in the order of `checks`. The replay command
/// repeats the run's app image when one was given (`--app-image`, HARNESS_APP_IMAGE), and the
/// configuration file and variables in `inputs`. Call it
/// before the run shuts down, because the logs are read from the containers.
pub async fn write_bundles(
    run: &Run,
    checks: &[CheckResult],
    report_dir: &Path,
    inputs: &RunInputs,
) -> Vec<(String, Result<PathBuf, BundleError>)> {
    let failed: Vec<&CheckResult> = checks.iter().filter(|check| needs_bundle(check)).collect();
    if failed.is_empty() {
        return Vec::new();
    }

    let mut notes = Vec::new();
    let logs = gather_logs(run, &mut notes).await;
    let schema = read_schema(run).await;
    let app_image = run.config().app_image.as_ref().map(ToString::to_string);

    let mut written = Vec::new();
    for result in failed {
        let bundle = Bundle {
            result: result.clone(),
            replay: ReplayCommand {
                check: result.name.clone(),
                app_image: app_image.clone(),
                details: result.repro.clone().unwrap_or_default(),
                workspace: run.config().workspace.clone(),
                run: inputs.clone(),
            },
            logs: logs.clone(),
            schema: schema.clone(),
            notes: notes.clone(),
        };
        written.push((result.name.clone(), bundle.write(report_dir)));
    }
    written
}

/// Reads the logs of every app container of the run and of Postgres, as bundle files. A log
/// that cannot be read, and a container that wrote nothing, become notes.
async fn gather_logs(run: &Run, notes: &mut Vec<String>) -> Vec<LogFile> {
    let mut all = Vec::new();
    match run.app_logs().await {
        Ok(logs) => all.extend(logs),
        Err(error) => notes.push(format!("the app logs could not be read: {error}")),
    }
    match run.postgres_logs().await {
        Ok(logs) => all.push(logs),
        Err(error) => notes.push(format!("the Postgres log could not be read: {error}")),
    }

    let mut files = Vec::new();
    for ContainerLogs {
        container,
        stdout,
        stderr,
    } in all
    {
        // A container that wrote nothing, such as an app that exited at once, still gets a
        // file, so that the bundle shows its log was read.
        if stdout.is_empty() && stderr.is_empty() {
            notes.push(format!(
                "container {container} wrote nothing to stdout or stderr"
            ));
            files.push(LogFile {
                name: format!("{container}.stdout.log"),
                bytes: Vec::new(),
            });
            continue;
        }
        for (stream, bytes) in [("stdout", stdout), ("stderr", stderr)] {
            if bytes.is_empty() {
                continue;
            }
            files.push(LogFile {
                name: format!("{container}.{stream}.log"),
                bytes,
            });
        }
    }
    files
}

/// Describes the application database's schema as the superuser, which can read every
/// object, inside a read-only transaction.
async fn read_schema(run: &Run) -> Result<String, String> {
    let deployment = run.deployment();
    let read = async {
        let options = deployment.connect_options(&deployment.superuser);
        let mut connection = PgConnection::connect_with(&options).await?;
        sqlx::raw_sql("BEGIN READ ONLY")
            .execute(&mut connection)
            .await?;
        let description = describe_schema(&mut connection).await?;
        sqlx::raw_sql("ROLLBACK").execute(&mut connection).await?;
        connection.close().await?;
        Ok::<_, sqlx::Error>(description)
    };
    match tokio::time::timeout(SCHEMA_TIMEOUT, read).await {
        Ok(Ok(description)) => Ok(description),
        Ok(Err(error)) => Err(harness::redact::redact(&format!(
            "reading the schema of {}:{} failed: {error}",
            deployment.postgres_host, deployment.postgres_port
        ))),
        Err(_) => Err(format!(
            "reading the schema timed out after {SCHEMA_TIMEOUT:?}"
        )),
    }
}
