//! Migration folders of two layouts, so that the migration checks and `harness drift` read,
//! replay and lint both the same way:
//!
//! - sqlx: `<version>_<description>.sql` files, recorded in `_sqlx_migrations` with a SHA-384
//!   checksum;
//! - Prisma Migrate: `<timestamp>_<name>/migration.sql` folders, recorded in
//!   `_prisma_migrations` with the hex SHA-256 of the file, the folder name as
//!   `migration_name`, `finished_at` set on success and `rolled_back_at` set on rows that
//!   `prisma migrate resolve` retired (prisma-engines, schema-engine/ARCHITECTURE.md).
//!
//! A Prisma folder is replayed with sqlx's migrator, one migration per `migration.sql`, so the
//! replayed database records it in `_sqlx_migrations`.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::migration_files::{MigrationFile, MigrationFilesError, read_migration_files};
use crate::migrations_tamper::{LedgerRow, read_ledger};

/// File name of a Prisma migration inside its folder.
pub const PRISMA_MIGRATION_FILE: &str = "migration.sql";

/// Layout of a migrations folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// sqlx files, ledger `_sqlx_migrations`.
    Sqlx,
    /// Prisma Migrate folders, ledger `_prisma_migrations`.
    Prisma,
}

impl SourceKind {
    /// Returns the ledger table of this layout.
    pub fn ledger_table(self) -> &'static str {
        match self {
            SourceKind::Sqlx => "_sqlx_migrations",
            SourceKind::Prisma => "_prisma_migrations",
        }
    }
}

/// Returns [`SourceKind::Prisma`] when a subfolder of `dir` contains a `migration.sql`, and
/// [`SourceKind::Sqlx`] otherwise.
pub fn detect(dir: &Path) -> SourceKind {
    let Ok(entries) = fs::read_dir(dir) else {
        return SourceKind::Sqlx;
    };
    let prisma = entries
        .filter_map(Result::ok)
        .any(|entry| entry.path().join(PRISMA_MIGRATION_FILE).is_file());
    if prisma {
        SourceKind::Prisma
    } else {
        SourceKind::Sqlx
    }
}

/// Reads the migrations of `dir` in either layout, sorted by version. For Prisma, the version
/// is the number before the first `_` of the folder name, the file name is
/// `<folder>/migration.sql` and the checksum is SHA-256.
pub fn read_files(dir: &Path) -> Result<Vec<MigrationFile>, MigrationFilesError> {
    match detect(dir) {
        SourceKind::Sqlx => read_migration_files(dir),
        SourceKind::Prisma => read_prisma_migrations(dir),
    }
}

/// Reads the `<timestamp>_<name>/migration.sql` folders of `dir`, sorted by version.
pub fn read_prisma_migrations(dir: &Path) -> Result<Vec<MigrationFile>, MigrationFilesError> {
    let read_dir_error = |source| MigrationFilesError::ReadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path().join(PRISMA_MIGRATION_FILE);
        if !path.is_file() {
            continue;
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        let invalid_name = || MigrationFilesError::InvalidName {
            dir: dir.to_owned(),
            file_name: folder.clone(),
        };
        let (version, name) = folder.split_once('_').ok_or_else(invalid_name)?;
        let version: i64 = version.parse().map_err(|_| invalid_name())?;

        let bytes = fs::read(&path).map_err(|source| MigrationFilesError::ReadFile {
            path: path.clone(),
            source,
        })?;
        files.push(MigrationFile {
            version,
            description: name.to_owned(),
            file_name: format!("{folder}/{PRISMA_MIGRATION_FILE}"),
            checksum: Sha256::digest(&bytes).to_vec(),
        });
    }

    files.sort_by_key(|file| file.version);
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

/// Builds sqlx's migrator for `dir` in either layout. The error message names the folder.
pub async fn migrator(dir: &Path) -> Result<Migrator, String> {
    match detect(dir) {
        SourceKind::Sqlx => Migrator::new(dir).await.map_err(|error| {
            format!(
                "sqlx cannot read the migrations in {}: {error}",
                dir.display()
            )
        }),
        SourceKind::Prisma => {
            let files = read_prisma_migrations(dir).map_err(|error| error.to_string())?;
            let mut migrations = Vec::new();
            for file in files {
                let path = dir.join(&file.file_name);
                let sql = fs::read_to_string(&path).map_err(|error| {
                    format!("cannot read migration file {}: {error}", path.display())
                })?;
                migrations.push(Migration::new(
                    file.version,
                    file.description.into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(sql).into_sql_str(),
                    false,
                ));
            }
            Ok(Migrator::with_migrations(migrations))
        }
    }
}

/// Reads the ledger of `kind` in the form of `_sqlx_migrations`, or `None` when the table does
/// not exist. Prisma rows that `rolled_back_at` retired are left out, a row without
/// `finished_at` counts as failed, and the hex checksum is decoded.
pub async fn read_source_ledger(
    kind: SourceKind,
    connection: &mut PgConnection,
) -> Result<Option<Vec<LedgerRow>>, sqlx::Error> {
    match kind {
        SourceKind::Sqlx => read_ledger(connection).await,
        SourceKind::Prisma => read_prisma_ledger(connection).await,
    }
}

async fn read_prisma_ledger(
    connection: &mut PgConnection,
) -> Result<Option<Vec<LedgerRow>>, sqlx::Error> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT to_regclass('public._prisma_migrations') IS NOT NULL")
            .fetch_one(&mut *connection)
            .await?;
    if !exists {
        return Ok(None);
    }
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT migration_name::text, checksum::text, finished_at IS NOT NULL
         FROM public._prisma_migrations
         WHERE rolled_back_at IS NULL
         ORDER BY migration_name",
    )
    .fetch_all(&mut *connection)
    .await?;

    let ledger = rows
        .into_iter()
        .map(|(name, checksum, finished)| {
            let version = name
                .split_once('_')
                .and_then(|(version, _)| version.parse().ok())
                .unwrap_or(i64::MIN);
            LedgerRow {
                version,
                description: name,
                success: finished,
                checksum: decode_hex(&checksum),
            }
        })
        .collect();
    Ok(Some(ledger))
}

/// Decodes lowercase or uppercase hex. Invalid text decodes to no bytes, which then differs
/// from every file's checksum.
fn decode_hex(text: &str) -> Vec<u8> {
    if !text.len().is_multiple_of(2) {
        return Vec::new();
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&text[index..index + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::migration_files::hex;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "scenarios-migration-source-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch folder should be created");
        dir
    }

    #[test]
    fn prisma_folder_is_detected_and_read() {
        let dir = scratch_dir("prisma");
        fs::create_dir_all(dir.join("20240102000000_add_tag")).unwrap();
        fs::create_dir_all(dir.join("20240101000000_init")).unwrap();
        fs::write(
            dir.join("20240102000000_add_tag/migration.sql"),
            "select 2;",
        )
        .unwrap();
        fs::write(dir.join("20240101000000_init/migration.sql"), "abc").unwrap();
        fs::write(dir.join("migration_lock.toml"), "provider = \"postgresql\"").unwrap();

        let files = read_files(&dir).expect("folder should be read");

        assert_eq!(detect(&dir), SourceKind::Prisma);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].version, 20240101000000);
        assert_eq!(files[0].description, "init");
        assert_eq!(files[0].file_name, "20240101000000_init/migration.sql");
        // SHA-256 of "abc", as `printf abc | sha256sum` prints it.
        assert_eq!(
            hex(&files[0].checksum),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(files[1].version, 20240102000000);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sqlx_folder_is_detected() {
        let dir = scratch_dir("sqlx");
        fs::write(dir.join("0001_init.sql"), "select 1;").unwrap();

        assert_eq!(detect(&dir), SourceKind::Sqlx);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decode_hex_round_trips() {
        assert_eq!(decode_hex("00ff10"), [0x00, 0xff, 0x10]);
        assert_eq!(decode_hex("0"), Vec::<u8>::new());
        assert_eq!(decode_hex("zz"), Vec::<u8>::new());
    }
}
