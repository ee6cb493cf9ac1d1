//! Check `leaks.credentials`: no database credential leaves where it belongs. Every role of the
//! run has a password unique to the run, and those passwords are the canaries. The check walks
//! every endpoint (see [`tour`](crate::tour)) and scans for the canaries, connection strings and
//! key-value pairs with a password, and the verifiers Postgres stores for role passwords, in:
//!
//! - the stdout and stderr of every app container of the run;
//! - the Postgres server log (the Postgres container's stdout and stderr);
//! - every response body that any check of the run received, errors included;
//! - the harness's own log output in this process;
//! - the files under the report folder, the nextest JUnit files and `snapshots/`;
//! - the app image's configuration: environment, labels and build history.
//!
//! `harness validate` also scans the table it prints and the report it writes, which exist only
//! after every check has run (see [`scan_final_output`]).

use std::path::PathBuf;
use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::Deployment;
use harness::run::Run;
use harness::scan::{Canary, Finding, Scanner, credential_formats};

use crate::lane_evidence::LaneEvidence;
use crate::leak_scan::{
    app_containers, scan_container_logs, scan_files, scan_responses, summarize,
};
use crate::tour;

/// Stable check name.
pub const NAME: &str = "leaks.credentials";

/// Runs the check on a run whose app is started.
pub async fn run(run: &Run) -> CheckResult {
    run_with_lanes(run, &[]).await
}

/// Runs the check on a run whose app is started, and also scans the logs and responses of the
/// run's other `lanes` for their role passwords and the passwords of `run`.
pub async fn run_with_lanes(run: &Run, lanes: &[LaneEvidence]) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, "check started");

    let result = match check(run, lanes).await {
        Ok((findings, passed)) => {
            CheckResult::from_findings(NAME, started.elapsed(), passed, summarize(findings))
        }
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Builds the scanner: the run's role passwords, retired ones included, and the credential
/// formats.
pub fn scanner(deployment: &Deployment) -> Result<Scanner, String> {
    Scanner::new(canaries(deployment), credential_formats())
        .map_err(|error| format!("building the scanner failed: {error}"))
}

/// Returns the run's role passwords as canaries, labelled by role, and the passwords that a
/// rotation retired, labelled as such.
pub fn canaries(deployment: &Deployment) -> Vec<Canary> {
    let current = [
        &deployment.superuser,
        &deployment.migrator,
        &deployment.app,
        &deployment.auditor,
    ]
    .into_iter()
    .map(|credentials| {
        Canary::new(
            format!("password of role {}", credentials.role),
            credentials.password.clone(),
        )
    });
    let retired = deployment.retired.all().into_iter().map(|credentials| {
        Canary::new(
            format!("retired password of role {}", credentials.role),
            credentials.password,
        )
    });
    current.chain(retired).collect()
}

/// Scans the final output of `harness validate` (the printed table and the report JSON, as
/// written) and returns report lines for the findings.
pub fn scan_final_output(scanner: &Scanner, outputs: &[(&str, &str)]) -> Vec<String> {
    let findings = outputs
        .iter()
        .flat_map(|(source, text)| scanner.scan_text(*source, text))
        .collect();
    summarize(findings)
}

/// Folders and files scanned besides the containers: the harness's report folder, the nextest
/// JUnit files and the committed snapshots.
pub fn file_sources(run: &Run) -> Vec<PathBuf> {
    let config = run.config();
    let nextest = config.workspace.join("target").join("nextest");
    let mut sources = vec![config.harness_target_dir().join("reports")];
    if let Ok(profiles) = std::fs::read_dir(&nextest) {
        for profile in profiles.flatten() {
            sources.push(profile.path().join("junit.xml"));
        }
    }
    sources.push(crate::snapshot::snapshots_dir());
    sources
}

async fn check(run: &Run, lanes: &[LaneEvidence]) -> Result<(Vec<Finding>, String), String> {
    let deployment = run.deployment();
    let mut walk = tour::walk(deployment, NAME)
        .await
        .map_err(|error| format!("walking the API failed: {error}"))?;
    tour::clean_up(deployment, NAME, &mut walk).await;

    // One scanner with every lane's passwords, because a password can leak into another
    // lane's output only through the harness, which serves every lane.
    let mut canaries = canaries(deployment);
    for lane in lanes {
        canaries.extend(lane.role_passwords.iter().cloned());
    }
    let scanner = Scanner::new(canaries, credential_formats())
        .map_err(|error| format!("building the scanner failed: {error}"))?;
    let mut findings = Vec::new();

    let app_logs = run
        .app_logs()
        .await
        .map_err(|error| format!("reading the app container logs failed: {error}"))?;
    findings.extend(scan_container_logs(&scanner, &app_logs));

    let postgres_logs = run
        .postgres_logs()
        .await
        .map_err(|error| format!("reading the Postgres server log failed: {error}"))?;
    findings.extend(scan_container_logs(&scanner, &[postgres_logs]));

    let responses = deployment.responses.responses();
    findings.extend(scan_responses(&scanner, &responses));

    let harness_output = harness::logging::captured_output();
    findings.extend(scanner.scan_bytes("harness log output", &harness_output));

    let file_scan = scan_files(&scanner, &file_sources(run));
    if let Some(error) = file_scan.errors.first() {
        return Err(format!(
            "{error}; {} files or folders could not be scanned in all",
            file_scan.errors.len()
        ));
    }
    let files = file_scan.files;
    findings.extend(file_scan.findings);

    let image = app_image_name(run)?;
    findings.extend(image_config::scan(run.docker(), &scanner, &image).await?);

    let mut lane_app_containers = 0;
    let mut lane_responses = 0;
    for lane in lanes {
        findings.extend(scan_container_logs(&scanner, &lane.app_logs));
        findings.extend(scan_container_logs(
            &scanner,
            std::slice::from_ref(&lane.postgres_logs),
        ));
        findings.extend(scan_responses(&scanner, &lane.responses));
        lane_app_containers += lane.app_logs.len();
        lane_responses += lane.responses.len();
    }

    let mut passed = format!(
        "no role password or connection string with a password in the logs of {}, the \
         Postgres log, {} responses, the harness log, {files} report, JUnit and snapshot files, \
         or the configuration of image {image}",
        app_containers(app_logs.len()),
        responses.len(),
    );
    if !lanes.is_empty() {
        let names: Vec<&str> = lanes.iter().map(|lane| lane.lane.as_str()).collect();
        passed.push_str(&format!(
            ", nor in the logs of {}, the Postgres logs and {lane_responses} responses of lane {}",
            app_containers(lane_app_containers),
            names.join(", ")
        ));
    }
    Ok((findings, passed))
}

fn app_image_name(run: &Run) -> Result<String, String> {
    let app = run
        .app()
        .ok_or("the app container is not running; start it before this check")?;
    Ok(app.image())
}

pub mod image_config {
    //! The app image's configuration as Docker stores it: environment, labels, entrypoint and
    //! the command of every build step.

    use harness::scan::{Finding, Scanner};
    use serde_json::{Value, json};
    use testcontainers::bollard::Docker;

    /// Scans the configuration and history of `image`.
    pub async fn scan(
        docker: &Docker,
        scanner: &Scanner,
        image: &str,
    ) -> Result<Vec<Finding>, String> {
        let inspected = docker
            .inspect_image(image)
            .await
            .map_err(|error| format!("inspecting image {image} failed: {error}"))?;
        let history = docker
            .image_history(image)
            .await
            .map_err(|error| format!("reading the history of image {image} failed: {error}"))?;

        let config = serde_json::to_value(&inspected.config).unwrap_or(Value::Null);
        let history: Vec<Value> = history
            .iter()
            .map(|step| json!({ "created_by": step.created_by, "comment": step.comment }))
            .collect();
        Ok(scan_config(scanner, image, &config, &Value::Array(history)))
    }

    /// Scans an image's `config` (as `docker image inspect` shows it under `Config`) and its
    /// `history` (build steps).
    pub fn scan_config(
        scanner: &Scanner,
        image: &str,
        config: &Value,
        history: &Value,
    ) -> Vec<Finding> {
        let mut findings = scanner.scan_json(format!("image {image} config"), config);
        findings.extend(scanner.scan_json(format!("image {image} history"), history));
        findings
    }
}

#[cfg(test)]
mod tests {
    use harness::secret::Secret;
    use serde_json::json;

    use super::*;

    const APP_PASSWORD: &str = "Xq7pL2mVn9Rt4sKw8yZb3cHd6fJg1aEe";

    fn scanner() -> Scanner {
        let canary = Canary::new("password of role lv_app", Secret::new(APP_PASSWORD));
        Scanner::new(vec![canary], credential_formats()).expect("scanner should build")
    }

    #[test]
    fn image_env_with_a_password_flagged() {
        let config = json!({
            "Env": ["PATH=/usr/bin", format!("DB_PASSWORD={APP_PASSWORD}")],
            "Labels": {"org.localizevideos.image": "app"},
        });
        let history =
            json!([{"created_by": "COPY localizevideos-app /usr/local/bin/", "comment": ""}]);

        let findings =
            image_config::scan_config(&scanner(), "localizevideos/app:x", &config, &history);

        let locations: Vec<String> = findings
            .iter()
            .map(|finding| {
                format!(
                    "{}, {}: {}",
                    finding.source, finding.location, finding.label
                )
            })
            .collect();
        assert_eq!(
            locations,
            [
                "image localizevideos/app:x config, field $.Env[1], column 4: password key-value pair",
                "image localizevideos/app:x config, field $.Env[1], column 13: password of role lv_app",
            ]
        );
    }

    #[test]
    fn image_history_with_a_connection_string_flagged() {
        let history = json!([{
            "created_by": "ENV DATABASE_URL=postgres://lv_app:hunter2hunter2@db/x",
            "comment": "",
        }]);

        let findings =
            image_config::scan_config(&scanner(), "app:x", &json!({"Env": []}), &history);

        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].source, "image app:x history");
        assert!(
            !findings[0].to_string().contains("hunter2hunter2"),
            "{}",
            findings[0]
        );
    }

    #[test]
    fn final_output_with_a_canary_flagged() {
        let table = format!("CHECK  RESULT\nleaks.credentials  FAIL  {APP_PASSWORD}\n");

        let lines = scan_final_output(
            &scanner(),
            &[("the results table", &table), ("report.json", "{}")],
        );

        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("the results table, line 2, column 26: password of role lv_app"),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains(APP_PASSWORD), "{}", lines[0]);
    }
}
