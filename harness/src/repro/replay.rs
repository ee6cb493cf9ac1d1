//! The one command that replays a failed check: `harness validate --only NAME` with the check's
//! seed options and variables.

use std::path::PathBuf;

use super::details::ReproDetails;

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
}

impl ReplayCommand {
    /// Renders the command as one shell line, such as
    /// `HARNESS_FAULT_SEED=7 cargo run -p harness-cli -- validate --only chaos.pause`.
    pub fn render(&self) -> String {
        let mut words: Vec<String> = self
            .details
            .env
            .iter()
            .map(|(name, value)| format!("{name}={}", shell_quote(value)))
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
        }
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
