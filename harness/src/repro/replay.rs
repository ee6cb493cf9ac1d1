//! The one command that replays a failed check: `harness validate --only NAME` with the check's
//! seed options and variables, and the run's configuration file and variables.

use std::path::PathBuf;

use super::details::ReproDetails;
use crate::redact::redact;

/// Prefixes of the variables that change what a run does and that a replay repeats.
const REPLAYED_PREFIXES: &[&str] = &["HARNESS_", "PROPTEST_"];
/// Variable with a crud.properties case seed to replay, outside [`REPLAYED_PREFIXES`].
const CASE_SEED_VAR: &str = "CRUD_PROPERTIES_REPLAY";
/// Variables with a replayed prefix that the replay command sets another way or must not
/// repeat: the configuration file becomes `--config` and the app image `--app-image`.
const NOT_REPLAYED: &[&str] = &["HARNESS_CONFIG", "HARNESS_APP_IMAGE"];

/// Settings of the whole run that the replay repeats besides the check's own details: the
/// configuration file and the variables the user set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInputs {
    /// Absolute path of the configuration file the run read, from `--config`, HARNESS_CONFIG
    /// or the workspace's default location.
    pub config_file: Option<PathBuf>,
    /// HARNESS_*, PROPTEST_* and CRUD_PROPERTIES_REPLAY variables of the process, sorted by
    /// name. Never DATABASE_URL or a variable whose name mentions a password.
    pub env: Vec<(String, String)>,
}

impl RunInputs {
    /// Builds the inputs from `config_file` and the variables in `vars`. Pass the process
    /// environment before the harness exports the file's settings as variables, so that only
    /// the variables the user set are repeated.
    pub fn new(
        config_file: Option<PathBuf>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let config_file = config_file.map(|path| std::path::absolute(&path).unwrap_or(path));
        let mut env: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| is_replayed(name))
            .collect();
        env.sort();
        Self { config_file, env }
    }
}

/// Returns whether the replay repeats the variable `name`.
fn is_replayed(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret = upper.contains("PASSWORD") || upper.contains("DATABASE_URL");
    let replayed = name == CASE_SEED_VAR
        || REPLAYED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix));
    replayed && !secret && !NOT_REPLAYED.contains(&name)
}

/// Command that replays one failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayCommand {
    /// Check name, such as `crud.properties`.
    pub check: String,
    /// App image the run validated with `--app-image` or HARNESS_APP_IMAGE, if any.
    pub app_image: Option<String>,
    /// Seed options and variables of the check.
    pub details: ReproDetails,
    /// Workspace the command runs in.
    pub workspace: PathBuf,
    /// Configuration file and variables of the run.
    pub run: RunInputs,
}

impl ReplayCommand {
    /// Renders the command as one shell line, such as
    /// `HARNESS_FAULT_SEED=7 cargo run -p harness-cli -- validate --only chaos.pause`.
    /// The check's own variables override a run variable of the same name. Every value passes
    /// through [`redact`].
    pub fn render(&self) -> String {
        let check_env = &self.details.env;
        let run_env = self
            .run
            .env
            .iter()
            .filter(|(name, _)| !check_env.iter().any(|(own, _)| own == name));
        let mut words: Vec<String> = run_env
            .chain(check_env)
            .map(|(name, value)| format!("{name}={}", shell_quote(&redact(value))))
            .collect();
        words.extend(
            [
                "cargo",
                "run",
                "-p",
                "harness-cli",
                "--",
                "validate",
                "--only",
            ]
            .map(str::to_owned),
        );
        words.push(shell_quote(&self.check));
        if let Some(file) = &self.run.config_file {
            words.push("--config".to_owned());
            words.push(shell_quote(&file.display().to_string()));
        }
        if let Some(image) = &self.app_image {
            words.push("--app-image".to_owned());
            words.push(shell_quote(image));
        }
        words.extend(
            self.details
                .validate_args
                .iter()
                .map(|arg| shell_quote(arg)),
        );
        words.join(" ")
    }

    /// Renders `replay.sh`: a bash script that changes to the workspace and runs
    /// [`ReplayCommand::render`].
    pub fn script(&self) -> String {
        format!(
            "#!/usr/bin/env bash\n\
             # Replays the failure of {check} on fresh containers.\n\
             set -euo pipefail\n\
             cd {workspace}\n\
             {command}\n",
            check = self.check,
            workspace = shell_quote(&self.workspace.display().to_string()),
            command = self.render(),
        )
    }
}

/// Quotes `word` for a POSIX shell unless it consists of characters that need no quoting.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(details: ReproDetails, app_image: Option<&str>) -> ReplayCommand {
        ReplayCommand {
            check: "crud.properties".to_owned(),
            app_image: app_image.map(str::to_owned),
            details,
            workspace: PathBuf::from("/src/localize videos"),
            run: RunInputs::default(),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn run_inputs_keep_only_replayed_variables() {
        let inputs = RunInputs::new(
            None,
            vars(&[
                ("PATH", "/usr/bin"),
                ("DATABASE_URL", "postgres://u:p@h/db"),
                ("HARNESS_DATABASE_URL", "postgres://u:p@h/db"),
                ("HARNESS_DB_PASSWORD", "pw"),
                ("HARNESS_CONFIG", "/tmp/a.toml"),
                ("HARNESS_APP_IMAGE", "lv/app:rc1"),
                ("PROPTEST_CASES", "8"),
                ("HARNESS_FAULT_SEED", "7"),
                ("CRUD_PROPERTIES_REPLAY", "cc 00"),
            ]),
        );

        assert_eq!(
            inputs.env,
            vars(&[
                ("CRUD_PROPERTIES_REPLAY", "cc 00"),
                ("HARNESS_FAULT_SEED", "7"),
                ("PROPTEST_CASES", "8"),
            ])
        );
    }

    #[test]
    fn relative_config_file_becomes_absolute() {
        let inputs = RunInputs::new(Some(PathBuf::from("slow.toml")), Vec::new());

        let file = inputs.config_file.expect("the file should be kept");
        assert!(file.is_absolute(), "{file:?}");
        assert!(file.ends_with("slow.toml"), "{file:?}");
    }

    #[test]
    fn run_inputs_are_rendered() {
        let mut replay = command(ReproDetails::default(), Some("lv/app:rc1"));
        replay.run = RunInputs::new(
            Some(PathBuf::from("/cfg/fast bound.toml")),
            vars(&[
                ("HARNESS_APP_READY_TIMEOUT_SECS", "5"),
                ("PROPTEST_X", "a b"),
            ]),
        );

        let rendered = replay.render();

        assert_eq!(
            rendered,
            "HARNESS_APP_READY_TIMEOUT_SECS=5 PROPTEST_X='a b' cargo run -p harness-cli -- \
             validate --only crud.properties --config '/cfg/fast bound.toml' --app-image \
             lv/app:rc1"
        );
    }

    #[test]
    fn check_variable_overrides_run_variable() {
        let details = ReproDetails {
            env: vec![("HARNESS_FAULT_SEED".to_owned(), "42".to_owned())],
            ..ReproDetails::default()
        };
        let mut replay = command(details, None);
        replay.run = RunInputs::new(None, vars(&[("HARNESS_FAULT_SEED", "1")]));

        let rendered = replay.render();

        assert!(
            rendered.starts_with("HARNESS_FAULT_SEED=42 cargo"),
            "{rendered}"
        );
        assert!(!rendered.contains("HARNESS_FAULT_SEED=1"), "{rendered}");
    }

    #[test]
    fn plain_check_replays_with_only() {
        let rendered = command(ReproDetails::default(), None).render();

        assert_eq!(
            rendered,
            "cargo run -p harness-cli -- validate --only crud.properties"
        );
    }

    #[test]
    fn case_seed_is_quoted() {
        let details = ReproDetails {
            validate_args: vec!["--replay".to_owned(), "cc 0a1b".to_owned()],
            ..ReproDetails::default()
        };

        let rendered = command(details, Some("localizevideos/app:rc1")).render();

        assert_eq!(
            rendered,
            "cargo run -p harness-cli -- validate --only crud.properties --app-image \
             localizevideos/app:rc1 --replay 'cc 0a1b'"
        );
    }

    #[test]
    fn variables_come_first() {
        let details = ReproDetails {
            env: vec![("HARNESS_FAULT_SEED".to_owned(), "42".to_owned())],
            ..ReproDetails::default()
        };

        let rendered = command(details, None).render();

        assert!(
            rendered.starts_with("HARNESS_FAULT_SEED=42 cargo run"),
            "{rendered}"
        );
    }

    #[test]
    fn script_changes_to_quoted_workspace() {
        let script = command(ReproDetails::default(), None).script();

        assert!(script.starts_with("#!/usr/bin/env bash\n"), "{script}");
        assert!(script.contains("cd '/src/localize videos'\n"), "{script}");
    }

    #[test]
    fn single_quote_is_escaped() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
