//! Checks of the files a run reads, made before anything starts, so that a wrong path is a
//! usage error and not a failed check.

use std::path::Path;

use harness::config::WORKSPACE_VAR;
use scenarios::snapshot::SNAPSHOTS_DIR_ENV;

/// Checks that `migrations_dir` is a folder and, when given, that `schema_snapshot` (read by
/// `migrations.replay`) is a file. The error names the path and how to fix it.
pub fn check_inputs(migrations_dir: &Path, schema_snapshot: Option<&Path>) -> Result<(), String> {
    if !migrations_dir.is_dir() {
        let problem = if migrations_dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(format!(
            "migrations folder {} {problem}; every check applies the migrations in it. Run the \
             harness from a LocalizeVideos checkout, or set {WORKSPACE_VAR} to one",
            migrations_dir.display()
        ));
    }

    if let Some(snapshot) = schema_snapshot
        && !snapshot.is_file()
    {
        let problem = if snapshot.exists() {
            "is not a file"
        } else {
            "does not exist"
        };
        return Err(format!(
            "schema snapshot {} {problem}; migrations.replay compares the schema with it. Set \
             {SNAPSHOTS_DIR_ENV} to the folder that contains schema.snap, create the file with \
             `INSTA_UPDATE=always cargo nextest run -p scenarios --test schema_snapshot`, or run \
             without that check (--only crud.smoke)",
            snapshot.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn workspace_inputs_pass() {
        let workspace = workspace();
        let snapshot = workspace.join("snapshots/schema.snap");
        let result = check_inputs(&workspace.join("migrations"), Some(&snapshot));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn missing_migrations_folder_is_named() {
        let missing = workspace().join("no-such-migrations");
        let error = check_inputs(&missing, None).expect_err("a missing folder should fail");
        assert!(
            error.starts_with(&format!(
                "migrations folder {} does not exist",
                missing.display()
            )),
            "{error}"
        );
        assert!(error.contains(WORKSPACE_VAR), "{error}");
    }

    #[test]
    fn migrations_file_is_not_a_folder() {
        let file = workspace().join("Cargo.toml");
        let error = check_inputs(&file, None).expect_err("a file should fail");
        assert!(error.contains("is not a folder"), "{error}");
    }

    #[test]
    fn missing_snapshot_is_named() {
        let workspace = workspace();
        let missing = workspace.join("snapshots/no-such.snap");
        let error = check_inputs(&workspace.join("migrations"), Some(&missing))
            .expect_err("a missing snapshot should fail");
        assert!(
            error.starts_with(&format!(
                "schema snapshot {} does not exist",
                missing.display()
            )),
            "{error}"
        );
        assert!(error.contains(SNAPSHOTS_DIR_ENV), "{error}");
    }

    #[test]
    fn snapshot_is_not_needed_without_replay() {
        let workspace = workspace();
        let result = check_inputs(&workspace.join("migrations"), None);
        assert_eq!(result, Ok(()));
    }
}
