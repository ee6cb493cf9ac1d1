//! The end of a `harness validate` run, after the checks: a repro bundle per failed check,
//! then, with `--keep` and a failure, the run left running instead of removed.

use std::path::{Path, PathBuf};

use harness::check::CheckResult;
use harness::deployment::{APP_ROLE, DATABASE};
use harness::error::Error;
use harness::postgres::SUPERUSER;
use harness::redact::redact;
use harness::repro::{BundleError, RunInputs};
use harness::run::{KeptRun, Run};
use scenarios::repro_bundle::{needs_bundle, write_bundles};

/// Outcome of the end of a run.
pub struct RunEnd {
    /// Bundle folder, or the error, of each failed check.
    pub bundles: Vec<(String, Result<PathBuf, BundleError>)>,
    /// The run left running with `--keep`.
    pub kept: Option<KeptRun>,
    /// Error of the shutdown, when the run was removed and something remained.
    pub shutdown_error: Option<Error>,
}

/// Writes the bundles of the failed checks under `report_dir`, with `inputs` in their replay
/// commands, then keeps the run when `keep` is set and a check failed, and shuts it down
/// otherwise.
pub async fn end_run(
    run: Run,
    checks: &[CheckResult],
    report_dir: &Path,
    inputs: &RunInputs,
    keep: bool,
) -> RunEnd {
    let bundles = write_bundles(&run, checks, report_dir, inputs).await;
    let failed = checks.iter().any(needs_bundle);

    if keep && failed {
        match run.keep() {
            Ok(kept) => {
                return RunEnd {
                    bundles,
                    kept: Some(kept),
                    shutdown_error: None,
                };
            }
            // Only a run started without RunOptions::keep gets here, and dropping it inside
            // `keep` removed its resources by label.
            Err(error) => {
                return RunEnd {
                    bundles,
                    kept: None,
                    shutdown_error: Some(error),
                };
            }
        }
    }
    RunEnd {
        bundles,
        kept: None,
        shutdown_error: run.shutdown().await.err(),
    }
}

/// Prints where each bundle is, and how to reach and remove a kept run.
pub fn print_run_end(end: &RunEnd) {
    for (check, written) in &end.bundles {
        match written {
            Ok(dir) => println!("repro bundle of {check}: {}", dir.display()),
            Err(error) => eprintln!("error: {}", redact(&error.to_string())),
        }
    }
    if let Some(kept) = &end.kept {
        println!("{}", render_kept(kept));
    }
}

/// Renders how to connect to a kept run and how to remove it. The psql line names the command
/// that shows the password (the container's environment) in place of the password.
pub fn render_kept(kept: &KeptRun) -> String {
    let run_id = &kept.run_id;
    let mut text = format!(
        "\nkept run {run_id} running for inspection (--keep): its containers and network stay \
         until you remove them\n"
    );
    // The password stays a placeholder: `PGPASSWORD="$(...)"` would read as a password
    // key-value pair to the secret scanner, and the value itself must never be printed.
    // `docker inspect` reads the environment of a stopped container too, and an app that failed
    // to start is a common reason to keep a run.
    let password_source = match (&kept.app_container, &kept.postgres_container) {
        (Some(app), _) => Some((APP_ROLE, environment_value(app, "DB_PASSWORD"))),
        (None, Some(postgres)) => {
            Some((SUPERUSER, environment_value(postgres, "POSTGRES_PASSWORD")))
        }
        (None, None) => None,
    };
    let host = &kept.postgres_host;
    match (kept.postgres_port, password_source) {
        (Some(port), Some((role, source))) => {
            text.push_str(&format!(
                "  Postgres: PGPASSWORD=<password> psql -h {host} -p {port} -U {role} \
                 {DATABASE}\n            (<password>: the output of `{source}`)\n"
            ));
        }
        (Some(port), None) => text.push_str(&format!("  Postgres: {host}:{port}\n")),
        (None, _) => text.push_str("  Postgres: no published port (production-like topology)\n"),
    }
    if let Some(url) = &kept.app_url {
        text.push_str(&format!("  app:      {url}\n"));
    }
    if let Some(network) = &kept.network {
        text.push_str(&format!("  network:  {network}\n"));
    }
    text.push_str(&format!(
        "  remove:   cargo run -p harness-cli -- gc --run {run_id}\n"
    ));
    text
}

/// Returns a shell command that prints the value of `variable` in the environment of
/// `container`, running or stopped.
fn environment_value(container: &str, variable: &str) -> String {
    format!(
        "docker inspect --format '{{{{range .Config.Env}}}}{{{{println .}}}}{{{{end}}}}' {container} \
         | grep '^{variable}' | cut -d= -f2-"
    )
}

#[cfg(test)]
mod tests {
    use harness::labels::RunId;

    use super::*;

    fn kept(app: bool) -> KeptRun {
        KeptRun {
            run_id: RunId::from_label("20260101-000000-abcdef"),
            network: Some("lv-net-20260101-000000-abcdef".to_owned()),
            postgres_container: Some("lv-pg-20260101-000000-abcdef".to_owned()),
            postgres_host: "127.0.0.1".to_owned(),
            postgres_port: Some(54321),
            app_container: app.then(|| "lv-app-20260101-000000-abcdef".to_owned()),
            app_url: app.then(|| "http://127.0.0.1:8081".to_owned()),
        }
    }

    #[test]
    fn kept_run_names_psql_command() {
        let text = render_kept(&kept(true));

        assert!(
            text.contains(
                "PGPASSWORD=<password> psql -h 127.0.0.1 -p 54321 -U lv_app localizevideos"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "`docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' \
                 lv-app-20260101-000000-abcdef | grep '^DB_PASSWORD' | cut -d= -f2-`"
            ),
            "{text}"
        );
    }

    #[test]
    fn kept_run_text_passes_scanner() {
        let scanner = harness::scan::Scanner::new(Vec::new(), harness::scan::credential_formats())
            .expect("the scanner should build");

        let findings = scanner.scan_text("kept run", &render_kept(&kept(true)));

        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn kept_run_names_app_url_and_gc() {
        let text = render_kept(&kept(true));

        assert!(text.contains("app:      http://127.0.0.1:8081"), "{text}");
        assert!(
            text.contains("cargo run -p harness-cli -- gc --run 20260101-000000-abcdef"),
            "{text}"
        );
    }

    #[test]
    fn kept_run_without_app_uses_superuser() {
        let text = render_kept(&kept(false));

        assert!(text.contains("-U postgres"), "{text}");
        assert!(text.contains("grep '^POSTGRES_PASSWORD'"), "{text}");
        assert!(!text.contains("app:"), "{text}");
    }
}
