//! Writing one repro bundle: `<report dir>/repro/<check name>/`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::check::{CheckResult, Status};
use crate::redact::redact;

use super::replay::ReplayCommand;

/// Folder under the report folder that contains one bundle per failed check.
pub const REPRO_DIR: &str = "repro";

/// A container log for a bundle: its file name under `logs/` and the raw bytes.
#[derive(Clone)]
pub struct LogFile {
    /// File name, such as `lv-pg-<run id>.stderr.log`.
    pub name: String,
    /// The log as the container wrote it. The bundle redacts it before writing.
    pub bytes: Vec<u8>,
}

/// A bundle that writing failed for, with the path and the cause.
#[derive(Debug, thiserror::Error)]
#[error(
    "writing the repro bundle file {path} failed: {source}. Check that the report folder is writable"
)]
pub struct BundleError {
    /// File or folder that could not be written.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// The contents of one failed check's bundle. Every text passes through
/// [`redact`] when [`Bundle::write`] writes it.
pub struct Bundle {
    /// The check's result.
    pub result: CheckResult,
    /// Command that replays the failure.
    pub replay: ReplayCommand,
    /// Logs of the run's app containers and Postgres.
    pub logs: Vec<LogFile>,
    /// The schema description of the application database, or why it could not be read.
    pub schema: Result<String, String>,
    /// Limits of this bundle that a reader should know, one line each, such as a log that
    /// could not be read.
    pub notes: Vec<String>,
}

impl Bundle {
    /// Returns the bundle folder of `check` under `report_dir`.
    pub fn dir(report_dir: &Path, check: &str) -> PathBuf {
        report_dir.join(REPRO_DIR).join(check)
    }

    /// Writes the bundle to [`Bundle::dir`] and returns that folder. A bundle left by an
    /// earlier run in the same folder is replaced.
    pub fn write(&self, report_dir: &Path) -> Result<PathBuf, BundleError> {
        let dir = Self::dir(report_dir, &self.result.name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|source| BundleError {
                path: dir.clone(),
                source,
            })?;
        }
        let logs_dir = dir.join("logs");
        fs::create_dir_all(&logs_dir).map_err(|source| BundleError {
            path: logs_dir.clone(),
            source,
        })?;

        let details = &self.replay.details;
        if let Some(seed) = &details.seed {
            write_text(&dir.join("seed.txt"), &format!("{seed}\n"))?;
        }
        for file in &details.files {
            write_text(&dir.join(&file.name), &file.contents)?;
        }
        for (log, name) in self.logs.iter().zip(self.log_names()) {
            write_text(&logs_dir.join(name), &String::from_utf8_lossy(&log.bytes))?;
        }
        let schema = match &self.schema {
            Ok(description) => description.clone(),
            Err(reason) => format!("-- the schema could not be read: {reason}\n"),
        };
        write_text(&dir.join("schema.txt"), &schema)?;

        let script = dir.join("replay.sh");
        write_text(&script, &self.replay.script())?;
        make_executable(&script)?;
        write_text(&dir.join("README.md"), &self.readme())?;
        Ok(dir)
    }

    /// Renders README.md: the verdict, the replay command and the list of files.
    fn readme(&self) -> String {
        let result = &self.result;
        let status = match result.status {
            Status::Fail => "failed",
            Status::Error => "ended with an error",
            Status::Pass | Status::Skip => "did not fail",
        };
        let mut text = format!("# {} {status}\n\n{}\n", result.name, result.message);
        if !result.findings.is_empty() {
            text.push_str("\n## Findings\n\n");
            for finding in &result.findings {
                text.push_str(&format!("- {finding}\n"));
            }
        }

        text.push_str("\n## Replay\n\nRun from the workspace (replay.sh does the same):\n\n");
        text.push_str(&format!("    {}\n", self.replay.render()));
        match &self.replay.details.seed {
            Some(seed) => text.push_str(&format!("\nSeed: {seed} (also in seed.txt)\n")),
            None => text.push_str(
                "\nNo seed: the check draws nothing at random, so it repeats without one.\n",
            ),
        }

        text.push_str("\n## Files\n\n");
        for file in &self.replay.details.files {
            text.push_str(&format!("- {}\n", file.name));
        }
        text.push_str("- schema.txt: the application database's schema after the run\n");
        for name in self.log_names() {
            text.push_str(&format!("- logs/{name}\n"));
        }
        text.push_str("- replay.sh\n");

        if !self.notes.is_empty() {
            text.push_str("\n## Notes\n\n");
            for note in &self.notes {
                text.push_str(&format!("- {note}\n"));
            }
        }
        text
    }
}

impl Bundle {
    /// Returns the file name of each log in [`Bundle::logs`], in the same order. A replaced
    /// app container has the same name as the one that replaced it, so names that occur more
    /// than once get `-1`, `-2`, … in list order (the run lists the older container first),
    /// and no log overwrites another.
    fn log_names(&self) -> Vec<String> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut names = Vec::with_capacity(self.logs.len());
        for log in &self.logs {
            let total = self
                .logs
                .iter()
                .filter(|other| other.name == log.name)
                .count();
            if total == 1 {
                names.push(log.name.clone());
                continue;
            }
            let number = seen.entry(log.name.as_str()).or_insert(0);
            *number += 1;
            names.push(numbered_name(&log.name, *number));
        }
        names
    }
}

/// Inserts `-<number>` before the stream and extension: `lv-app.stdout.log` becomes
/// `lv-app-2.stdout.log`. A name with fewer than two dots gets the number at its end.
fn numbered_name(name: &str, number: usize) -> String {
    let mut parts = name.rsplitn(3, '.');
    let (extension, stream, stem) = (parts.next(), parts.next(), parts.next());
    match (stem, stream, extension) {
        (Some(stem), Some(stream), Some(extension)) => {
            format!("{stem}-{number}.{stream}.{extension}")
        }
        _ => format!("{name}-{number}"),
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), BundleError> {
    fs::write(path, redact(text)).map_err(|source| BundleError {
        path: path.to_path_buf(),
        source,
    })
}

fn make_executable(path: &Path) -> Result<(), BundleError> {
    use std::os::unix::fs::PermissionsExt;

    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|source| BundleError {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::repro::ReproDetails;
    use crate::secret::Secret;

    /// Generates a password and registers it for redaction, as a run does with its role
    /// passwords.
    fn registered_canary() -> String {
        let secret = Secret::generate();
        crate::redact::register(&secret);
        secret.expose().to_owned()
    }

    fn failed_bundle(canary: &str) -> Bundle {
        let result = CheckResult::from_findings(
            "crud.properties",
            Duration::from_millis(5),
            "passed",
            vec![format!("login as lv_app with password {canary} failed")],
        );
        let details = ReproDetails {
            seed: Some("1234".to_owned()),
            validate_args: vec!["--replay".to_owned(), "cc 00ff".to_owned()],
            env: Vec::new(),
            files: Vec::new(),
        }
        .with_file(
            "sequence.txt",
            format!("POST /v1/users password={canary}\n"),
        );
        Bundle {
            result,
            replay: ReplayCommand {
                check: "crud.properties".to_owned(),
                app_image: None,
                details,
                workspace: PathBuf::from("/workspace"),
                run: crate::repro::RunInputs::default(),
            },
            logs: vec![LogFile {
                name: "lv-app.stderr.log".to_owned(),
                bytes: format!("connecting to postgres://lv_app:{canary}@lv-pg:5432/db\n")
                    .into_bytes(),
            }],
            schema: Ok("table public.users\n".to_owned()),
            notes: vec!["access.isolation ran on a run of its own".to_owned()],
        }
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    #[test]
    fn bundle_has_every_file() {
        let report_dir = std::env::temp_dir().join(format!("repro-files-{}", std::process::id()));
        let canary = registered_canary();

        let dir = failed_bundle(&canary)
            .write(&report_dir)
            .expect("the bundle should be written");

        assert_eq!(dir, report_dir.join("repro/crud.properties"));
        for name in [
            "README.md",
            "seed.txt",
            "sequence.txt",
            "schema.txt",
            "replay.sh",
            "logs/lv-app.stderr.log",
        ] {
            assert!(dir.join(name).is_file(), "{name} should exist in {dir:?}");
        }
        assert_eq!(read(&dir, "seed.txt"), "1234\n");
        fs::remove_dir_all(&report_dir).expect("the temporary folder should be removable");
    }

    #[test]
    fn bundle_names_replay_command() {
        let report_dir = std::env::temp_dir().join(format!("repro-replay-{}", std::process::id()));
        let canary = registered_canary();

        let dir = failed_bundle(&canary)
            .write(&report_dir)
            .expect("the bundle should be written");

        let command =
            "cargo run -p harness-cli -- validate --only crud.properties --replay 'cc 00ff'";
        assert!(read(&dir, "README.md").contains(command));
        assert!(read(&dir, "replay.sh").contains(command));
        let mode = fs::metadata(dir.join("replay.sh"))
            .expect("replay.sh should exist")
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o111, 0o111, "replay.sh should be executable");
        fs::remove_dir_all(&report_dir).expect("the temporary folder should be removable");
    }

    #[test]
    fn bundle_redacts_every_file() {
        let report_dir = std::env::temp_dir().join(format!("repro-redact-{}", std::process::id()));
        let canary = registered_canary();

        let dir = failed_bundle(&canary)
            .write(&report_dir)
            .expect("the bundle should be written");

        for name in ["README.md", "sequence.txt", "logs/lv-app.stderr.log"] {
            let text = read(&dir, name);
            assert!(
                !text.contains(&canary),
                "{name} contains the password: {text}"
            );
            assert!(
                text.contains("[redacted]"),
                "{name} should show the redaction: {text}"
            );
        }
        fs::remove_dir_all(&report_dir).expect("the temporary folder should be removable");
    }

    #[test]
    fn replaced_container_logs_kept_apart() {
        let report_dir = std::env::temp_dir().join(format!("repro-twice-{}", std::process::id()));
        let mut bundle = failed_bundle(&registered_canary());
        bundle.logs = ["old app\n", "new app\n"]
            .map(|text| LogFile {
                name: "lv-app.stdout.log".to_owned(),
                bytes: text.as_bytes().to_vec(),
            })
            .to_vec();
        bundle.logs.push(LogFile {
            name: "lv-pg.stderr.log".to_owned(),
            bytes: b"ready\n".to_vec(),
        });

        let dir = bundle
            .write(&report_dir)
            .expect("the bundle should be written");

        assert_eq!(read(&dir, "logs/lv-app-1.stdout.log"), "old app\n");
        assert_eq!(read(&dir, "logs/lv-app-2.stdout.log"), "new app\n");
        assert_eq!(read(&dir, "logs/lv-pg.stderr.log"), "ready\n");
        assert!(!dir.join("logs/lv-app.stdout.log").exists());
        let readme = read(&dir, "README.md");
        for name in [
            "logs/lv-app-1.stdout.log",
            "logs/lv-app-2.stdout.log",
            "logs/lv-pg.stderr.log",
        ] {
            assert_eq!(readme.matches(name).count(), 1, "{name} once in {readme}");
        }
        fs::remove_dir_all(&report_dir).expect("the temporary folder should be removable");
    }

    #[test]
    fn numbered_name_keeps_stream() {
        assert_eq!(numbered_name("lv-app.stderr.log", 3), "lv-app-3.stderr.log");
        assert_eq!(numbered_name("plain", 1), "plain-1");
    }

    #[test]
    fn unreadable_schema_is_explained() {
        let report_dir = std::env::temp_dir().join(format!("repro-schema-{}", std::process::id()));
        let mut bundle = failed_bundle(&registered_canary());
        bundle.schema = Err("Postgres was not reachable".to_owned());

        let dir = bundle
            .write(&report_dir)
            .expect("the bundle should be written");

        assert!(read(&dir, "schema.txt").contains("Postgres was not reachable"));
        fs::remove_dir_all(&report_dir).expect("the temporary folder should be removable");
    }
}
