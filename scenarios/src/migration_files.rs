//! The migration files of a folder, read independently of sqlx so that the
//! check can compare what sqlx recorded with what is on disk.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha384};

/// One migration file that sqlx applies (a `.down.sql` revert is not applied, so
/// it is not listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationFile {
    /// Version: the number before the first `_` of the file name.
    pub version: i64,
    /// Description as sqlx records it: the rest of the name without the `.sql` or
    /// `.up.sql` suffix, with `_` replaced by spaces.
    pub description: String,
    /// File name, such as `0001_users.sql`.
    pub file_name: String,
    /// SHA-384 of the file's bytes, which sqlx 0.9 stores as the checksum.
    pub checksum: Vec<u8>,
}

/// Failure to read a migrations folder.
#[derive(Debug, thiserror::Error)]
pub enum MigrationFilesError {
    /// The folder could not be listed.
    #[error("cannot list migrations folder {dir}: {source}; check that the path exists")]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read migration file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `.sql` file whose name is not `<version>_<description>.sql`.
    #[error(
        "invalid migration file name {file_name:?} in {dir}: expected \
         `<version>_<description>.sql` with an integer version; rename the file"
    )]
    InvalidName {
        /// The folder.
        dir: PathBuf,
        /// The file name.
        file_name: String,
    },
    /// Two files with the same version.
    #[error(
        "migration version {version} is used by both {first} and {second} in {dir}; \
         give one of them a new version"
    )]
    DuplicateVersion {
        /// The folder.
        dir: PathBuf,
        /// The version.
        version: i64,
        /// One file with that version.
        first: String,
        /// The other file with that version.
        second: String,
    },
}

/// Reads the migrations that sqlx applies from `dir`, sorted by version.
///
/// Follows the naming rules of sqlx 0.9's folder source: only `.sql` files
/// count, the version is the integer before the first `_`, and `.down.sql`
/// files are reverts that are never applied.
pub fn read_migration_files(dir: &Path) -> Result<Vec<MigrationFile>, MigrationFilesError> {
    let entries = fs::read_dir(dir).map_err(|source| MigrationFilesError::ReadDir {
        dir: dir.to_owned(),
        source,
    })?;

    let mut files: Vec<MigrationFile> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| MigrationFilesError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !file_name.ends_with(".sql") || file_name.ends_with(".down.sql") {
            continue;
        }

        let invalid_name = || MigrationFilesError::InvalidName {
            dir: dir.to_owned(),
            file_name: file_name.clone(),
        };
        let (version, rest) = file_name.split_once('_').ok_or_else(invalid_name)?;
        let version: i64 = version.parse().map_err(|_| invalid_name())?;
        let stem = rest
            .strip_suffix(".up.sql")
            .or_else(|| rest.strip_suffix(".sql"))
            .ok_or_else(invalid_name)?;

        let bytes = fs::read(&path).map_err(|source| MigrationFilesError::ReadFile {
            path: path.clone(),
            source,
        })?;

        files.push(MigrationFile {
            version,
            description: stem.replace('_', " "),
            file_name,
            checksum: Sha384::digest(&bytes).to_vec(),
        });
    }

    files.sort_by(|a, b| {
        a.version
            .cmp(&b.version)
            .then(a.file_name.cmp(&b.file_name))
    });
    for pair in files.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(MigrationFilesError::DuplicateVersion {
                dir: dir.to_owned(),
                version: pair[0].version,
                first: pair[0].file_name.clone(),
                second: pair[1].file_name.clone(),
            });
        }
    }

    Ok(files)
}

/// Names a migration by version and file, such as `migration 2 (0002_videos.sql)`.
pub fn migration_label(files: &[MigrationFile], version: i64) -> String {
    match files.iter().find(|file| file.version == version) {
        Some(file) => format!("migration {version} ({})", file.file_name),
        None => format!("migration {version} (no file)"),
    }
}

/// Formats a checksum as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates an empty folder under the system temp folder, unique to this process.
    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "scenarios-migration-files-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch folder should be created");
        dir
    }

    #[test]
    fn read_lists_applied_migrations_only() {
        let dir = scratch_dir("applied");
        fs::write(dir.join("2_add_videos.up.sql"), "select 2;").unwrap();
        fs::write(dir.join("2_add_videos.down.sql"), "select 0;").unwrap();
        fs::write(dir.join("1_create_users.sql"), "select 1;").unwrap();
        fs::write(dir.join("README.md"), "not a migration").unwrap();

        let files = read_migration_files(&dir).expect("folder should be read");

        let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, ["1_create_users.sql", "2_add_videos.up.sql"]);
        assert_eq!(files[0].version, 1);
        assert_eq!(files[0].description, "create users");
        assert_eq!(files[1].description, "add videos");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_checksum_is_sha384_of_bytes() {
        let dir = scratch_dir("checksum");
        fs::write(dir.join("1_x.sql"), "abc").unwrap();

        let files = read_migration_files(&dir).expect("folder should be read");

        // SHA-384 of "abc", as `printf abc | sha384sum` prints it.
        assert_eq!(
            hex(&files[0].checksum),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_rejects_name_without_version() {
        let dir = scratch_dir("invalid");
        fs::write(dir.join("users.sql"), "select 1;").unwrap();

        let error = read_migration_files(&dir).expect_err("name without version should fail");

        assert!(
            matches!(error, MigrationFilesError::InvalidName { ref file_name, .. } if file_name == "users.sql"),
            "unexpected error: {error}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_rejects_duplicate_version() {
        let dir = scratch_dir("duplicate");
        fs::write(dir.join("1_a.sql"), "select 1;").unwrap();
        fs::write(dir.join("1_b.sql"), "select 1;").unwrap();

        let error = read_migration_files(&dir).expect_err("duplicate version should fail");

        assert!(
            matches!(
                error,
                MigrationFilesError::DuplicateVersion { version: 1, .. }
            ),
            "unexpected error: {error}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
