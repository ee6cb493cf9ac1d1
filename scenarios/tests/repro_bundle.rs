//! Repro bundles of a real failure: crud.properties against an app built with the fail point
//! that ignores a video's new title, and with the one that logs its connection string with the
//! password. The bundle must hold the seed, the shrunk sequence, the replay command, the logs
//! and the schema, and the project's scanner must find no run password in it.

mod common;

use std::path::{Path, PathBuf};

use common::{describe, faulty_app, in_run, step};
use harness::check::Status;
use harness::durability::Durability;
use harness::scan::Finding;
use scenarios::crud_properties::{self, DEFAULT_MAX_CALLS, Options, Regressions, ReplayCommand};
use scenarios::leaks_credentials;
use scenarios::repro_bundle::write_bundles;

/// Cases the check may generate before the fault shows; it stops at the first failure.
const CASES: u32 = 256;
/// Generator seed, fixed so that the outcome does not vary between runs.
const SEED: u64 = 20_261_204;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the bundle folder should be readable") {
        let path = entry.expect("a folder entry should be readable").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|error| panic!("{name} should be readable in {}: {error}", dir.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_properties_bundle_is_complete() {
    let report_dir = std::env::temp_dir().join(format!("repro-bundle-{}", std::process::id()));
    let options = Options {
        cases: CASES,
        seed: SEED,
        max_calls: DEFAULT_MAX_CALLS,
        // The fault is intended, so its failure is not a regression to keep.
        regressions: Regressions::Off,
        replay_command: ReplayCommand::Validate {
            app_image: None,
            config_file: None,
        },
        concurrency: false,
    };
    let run_options = faulty_app(
        Durability::TestOnly,
        "video.update.ignore_title=return;startup.log_connection_string=return",
    );

    let (result, written, findings) = in_run(run_options, async |run| {
        // As `harness validate` does, so that schema.txt describes the migrated database.
        step(run.apply_migrations().await, "applying the migrations");
        let result = crud_properties::run_on_clone(run, &options).await.result;
        let written = write_bundles(
            run,
            std::slice::from_ref(&result),
            &report_dir,
            &harness::repro::RunInputs::default(),
        )
        .await;

        // The scanner of leaks.credentials: the run's role passwords as canaries, and
        // connection strings and password hashes by format.
        let scanner = leaks_credentials::scanner(run.deployment())
            .unwrap_or_else(|message| panic!("{message}"));
        let mut findings: Vec<Finding> = Vec::new();
        if let Some((_, Ok(dir))) = written.first() {
            for file in files_under(dir) {
                let bytes = std::fs::read(&file).expect("a bundle file should be readable");
                findings.extend(scanner.scan_bytes(file.display().to_string(), &bytes));
            }
        }
        (result, written, findings)
    })
    .await;

    assert_eq!(result.status, Status::Fail, "{}", describe(&result));
    assert_eq!(written.len(), 1, "one failed check should give one bundle");
    let (check, dir) = &written[0];
    assert_eq!(check, crud_properties::NAME);
    let dir = dir
        .as_ref()
        .unwrap_or_else(|error| panic!("the bundle should be written: {error}"));
    assert_eq!(*dir, report_dir.join("repro").join(crud_properties::NAME));

    let seed = read(dir, "seed.txt");
    assert!(
        seed.starts_with("cc "),
        "seed.txt should hold the case seed: {seed}"
    );
    let replay = format!("--only crud.properties --replay '{}'", seed.trim());
    let script = read(dir, "replay.sh");
    assert!(
        script.contains(&replay),
        "replay.sh should replay the case seed: {script}"
    );
    let readme = read(dir, "README.md");
    assert!(
        readme.contains(&replay),
        "README.md should name the replay command: {readme}"
    );
    let sequence = read(dir, "sequence.txt");
    assert!(
        sequence.contains("shrunk sequence"),
        "sequence.txt: {sequence}"
    );
    assert!(
        sequence.contains("title"),
        "sequence.txt should name the field: {sequence}"
    );
    let schema = read(dir, "schema.txt");
    assert!(
        schema.contains("users"),
        "schema.txt should describe the tables: {schema}"
    );

    let logs: Vec<PathBuf> = files_under(&dir.join("logs"));
    assert!(
        logs.iter()
            .any(|log| log.display().to_string().contains("lv-pg-")),
        "the Postgres log should be in the bundle: {logs:?}"
    );
    let app_logs: String = logs
        .iter()
        .filter(|log| log.display().to_string().contains("lv-app-"))
        .map(|log| std::fs::read_to_string(log).expect("an app log should be readable"))
        .collect();
    assert!(
        app_logs.contains("[redacted]"),
        "the app log, which logs its connection string, should show the redaction"
    );
    assert!(
        findings.is_empty(),
        "the bundle should contain no secret: {}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );

    std::fs::remove_dir_all(&report_dir).expect("the report folder should be removable");
}
