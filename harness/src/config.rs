//! Harness settings: image names, readiness timeouts, the app's argon2 cost and the paths the
//! harness reads and writes. Each setting has a default and an environment variable.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::labels::RunId;

/// Variable that overrides the Postgres image.
pub const POSTGRES_IMAGE_VAR: &str = "HARNESS_POSTGRES_IMAGE";
/// Variable that overrides the runtime image the app image is built from.
pub const RUNTIME_IMAGE_VAR: &str = "HARNESS_RUNTIME_IMAGE";
/// Variable that names a prebuilt app image. When it is set, the harness builds nothing.
pub const APP_IMAGE_VAR: &str = "HARNESS_APP_IMAGE";
/// Variable that overrides the workspace root.
pub const WORKSPACE_VAR: &str = "HARNESS_WORKSPACE";
/// Variable in which nextest (0.9.130 and later) passes the workspace root to tests.
pub const NEXTEST_WORKSPACE_ROOT_VAR: &str = "NEXTEST_WORKSPACE_ROOT";
/// Variable that overrides the Postgres readiness timeout, in seconds.
pub const POSTGRES_READY_TIMEOUT_VAR: &str = "HARNESS_POSTGRES_READY_TIMEOUT_SECS";
/// Variable that overrides the app readiness timeout, in seconds.
pub const APP_READY_TIMEOUT_VAR: &str = "HARNESS_APP_READY_TIMEOUT_SECS";
/// Variable that overrides the argon2 memory cost given to the app, in KiB.
pub const ARGON2_MEMORY_VAR: &str = "HARNESS_ARGON2_MEMORY_KIB";
/// Variable that overrides the argon2 iteration count given to the app.
pub const ARGON2_ITERATIONS_VAR: &str = "HARNESS_ARGON2_ITERATIONS";
/// Variable that sets RUST_LOG inside the app container.
pub const APP_RUST_LOG_VAR: &str = "HARNESS_APP_RUST_LOG";
/// Variable that sets how many app images built by the harness `harness validate` keeps.
pub const KEEP_APP_IMAGES_VAR: &str = "HARNESS_KEEP_APP_IMAGES";

/// Default Postgres image, built by `images/build.sh postgres`.
pub const DEFAULT_POSTGRES_IMAGE: &str = "localizevideos/postgres:15-bookworm-r3";
/// Default runtime image, built by `images/build.sh runtime`.
pub const DEFAULT_RUNTIME_IMAGE: &str = "localizevideos/runtime:bookworm";
/// Repository of the app images the harness builds, tagged with a hash of the binary and the
/// runtime image id.
pub const APP_IMAGE_REPOSITORY: &str = "localizevideos/app";
/// Namespace of the images this project builds itself. Any other image comes from a registry.
pub const OWN_IMAGE_NAMESPACE: &str = "localizevideos/";

/// Time from container start until Postgres returns a row for `SELECT 1` over TCP. The first
/// start runs initdb with fsync on, a temporary server for the init scripts, and then the real
/// server. That takes seconds on an idle machine, and several times as long when parallel runs share
/// a small, loaded machine with slow storage such as fuse-overlayfs.
const DEFAULT_POSTGRES_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time from app container start until `GET /readyz` returns 200. The binary starts in well
/// under a second and its database is already migrated, so this only has to cover the first
/// pool connection on a loaded machine. A longer wait would only delay the report of a broken
/// start.
const DEFAULT_APP_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for both readiness timeouts.
const MAX_READY_TIMEOUT_SECS: u64 = 3600;

/// App images built by the harness that the reaper keeps, newest first. Each is about 180 MB
/// (about 100 MB of it the debug binary), and a few cover switching between branches and the
/// plain and `failpoints` builds.
pub const DEFAULT_KEEP_APP_IMAGES: usize = 3;
/// Upper bound for [`KEEP_APP_IMAGES_VAR`].
pub const MAX_KEEP_APP_IMAGES: usize = 1000;

/// Argon2 memory cost for the app under test, in KiB. Real hashing stays on, but at a cost that
/// keeps a check with dozens of logins fast. Production uses the app's default of 19456 KiB.
const DEFAULT_ARGON2_MEMORY_KIB: u32 = 1024;
/// Argon2 iterations for the app under test (production default: 2).
const DEFAULT_ARGON2_ITERATIONS: u32 = 1;
/// Argon2 parallelism for the app under test (the same as the production default).
const ARGON2_PARALLELISM: u32 = 1;

/// An invalid harness setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is set to a value the harness does not accept.
    #[error("invalid {variable}={value:?}: expected {expected}")]
    Invalid {
        /// Variable name.
        variable: &'static str,
        /// Value as set.
        value: String,
        /// Description of the accepted values.
        expected: String,
    },
}

/// A Docker image reference split into repository name and tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository, such as `localizevideos/postgres` or `postgres`.
    pub name: String,
    /// Tag, such as `15-bookworm`.
    pub tag: String,
}

impl ImageRef {
    /// Parses `NAME[:TAG]`. A missing tag means `latest`, as in the Docker CLI. Digest
    /// references (`NAME@sha256:...`) are not accepted.
    pub fn parse(reference: &str) -> Option<Self> {
        // The tag follows the last ':' only when no '/' comes after it; otherwise the ':'
        // belongs to a registry host's port, as in `registry:5000/postgres`.
        let (name, tag) = match reference.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (reference, "latest"),
        };
        if !is_valid_repository(name) || !is_valid_tag(tag) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// Returns whether this project builds the image itself (`localizevideos/...`), as opposed to an
    /// image that has to come from a registry.
    pub fn is_ours(&self) -> bool {
        self.name.starts_with(OWN_IMAGE_NAMESPACE)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

fn is_valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|component| {
            !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
        })
}

fn is_valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Argon2id cost parameters the harness passes to the app (LV_ARGON2_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of iterations.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

/// All harness settings, read once at start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Postgres image.
    pub postgres_image: ImageRef,
    /// Base image of the app image.
    pub runtime_image: ImageRef,
    /// Prebuilt app image, or `None` when the harness builds one from the workspace.
    pub app_image: Option<ImageRef>,
    /// Deadline for Postgres to return a row for `SELECT 1` after its container starts.
    pub postgres_ready_timeout: Duration,
    /// Deadline for the app to return 200 for `GET /readyz` after its container starts.
    pub app_ready_timeout: Duration,
    /// Argon2 cost given to the app.
    pub argon2: Argon2Cost,
    /// RUST_LOG inside the app container.
    pub app_rust_log: String,
    /// Number of app images built by the harness that `harness validate` keeps, newest first,
    /// when [`KEEP_APP_IMAGES_VAR`] is set. `None` (unset) means that validate prunes no image,
    /// because on a shared Docker engine it would remove other users' fresh images; `harness gc`
    /// prunes with [`keep_app_images_setting`].
    pub keep_app_images: Option<usize>,
    /// Workspace root: migrations/, snapshots/, images/ and target/ live here.
    pub workspace: PathBuf,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Reads the settings through `lookup`, which returns a variable's value. An empty value
    /// counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());

        let postgres_image = image_setting(POSTGRES_IMAGE_VAR, get(POSTGRES_IMAGE_VAR))?
            .unwrap_or_else(|| ImageRef::parse(DEFAULT_POSTGRES_IMAGE).expect("default is valid"));
        let runtime_image = image_setting(RUNTIME_IMAGE_VAR, get(RUNTIME_IMAGE_VAR))?
            .unwrap_or_else(|| ImageRef::parse(DEFAULT_RUNTIME_IMAGE).expect("default is valid"));
        let app_image = image_setting(APP_IMAGE_VAR, get(APP_IMAGE_VAR))?;

        let postgres_ready_timeout = timeout_setting(
            POSTGRES_READY_TIMEOUT_VAR,
            get(POSTGRES_READY_TIMEOUT_VAR),
            DEFAULT_POSTGRES_READY_TIMEOUT,
        )?;
        let app_ready_timeout = timeout_setting(
            APP_READY_TIMEOUT_VAR,
            get(APP_READY_TIMEOUT_VAR),
            DEFAULT_APP_READY_TIMEOUT,
        )?;

        // argon2 requires at least 8 KiB per lane.
        let memory_kib = number_setting(
            ARGON2_MEMORY_VAR,
            get(ARGON2_MEMORY_VAR),
            8 * ARGON2_PARALLELISM..=4 * 1024 * 1024,
            DEFAULT_ARGON2_MEMORY_KIB,
        )?;
        let iterations = number_setting(
            ARGON2_ITERATIONS_VAR,
            get(ARGON2_ITERATIONS_VAR),
            1..=100,
            DEFAULT_ARGON2_ITERATIONS,
        )?;
        let argon2 = Argon2Cost {
            memory_kib,
            iterations,
            parallelism: ARGON2_PARALLELISM,
        };

        // The app parses RUST_LOG with the same tracing-subscriber parser and falls back to
        // `info` with a warning, so a typo would go unnoticed in its log.
        let app_rust_log = get(APP_RUST_LOG_VAR).unwrap_or_else(|| "info".to_owned());
        if let Err(error) = crate::logging::parse_filter(APP_RUST_LOG_VAR, &app_rust_log) {
            return Err(ConfigError::Invalid {
                variable: APP_RUST_LOG_VAR,
                value: app_rust_log,
                expected: format!(
                    "a tracing filter such as `info` or `info,localizevideos_app=debug` \
                     ({})",
                    error.cause
                ),
            });
        }

        let keep_app_images = match get(KEEP_APP_IMAGES_VAR) {
            Some(value) => Some(keep_app_images_setting(Some(value))?),
            None => None,
        };

        let workspace = match get(WORKSPACE_VAR) {
            Some(value) => workspace_setting(&value)?,
            None => default_workspace(),
        };

        Ok(Self {
            postgres_image,
            runtime_image,
            app_image,
            postgres_ready_timeout,
            app_ready_timeout,
            argon2,
            app_rust_log,
            keep_app_images,
            workspace,
        })
    }

    /// Returns the committed migrations folder.
    pub fn migrations_dir(&self) -> PathBuf {
        self.workspace.join("migrations")
    }

    /// Returns the folder of the image build scripts.
    pub fn images_dir(&self) -> PathBuf {
        self.workspace.join("images")
    }

    /// Returns the folder for the harness's own files under the workspace's target/.
    pub fn harness_target_dir(&self) -> PathBuf {
        self.workspace.join("target").join("harness")
    }

    /// Returns the folder of the lock files that serialise image builds across processes.
    pub fn locks_dir(&self) -> PathBuf {
        self.harness_target_dir().join("locks")
    }

    /// Returns the default report folder of a run.
    pub fn default_report_dir(&self, run_id: &RunId) -> PathBuf {
        self.harness_target_dir()
            .join("reports")
            .join(run_id.as_str())
    }
}

/// Returns the workspace root when HARNESS_WORKSPACE is unset: NEXTEST_WORKSPACE_ROOT under
/// nextest, which `cargo nextest run --archive-file … --workspace-remap DIR` points at DIR, or
/// else the parent of the harness crate's manifest folder, as compiled in.
pub fn default_workspace() -> PathBuf {
    if let Some(root) = std::env::var_os(NEXTEST_WORKSPACE_ROOT_VAR).filter(|root| !root.is_empty())
    {
        return PathBuf::from(root);
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn image_setting(
    variable: &'static str,
    value: Option<String>,
) -> Result<Option<ImageRef>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match ImageRef::parse(&value) {
        Some(image) => Ok(Some(image)),
        None => Err(ConfigError::Invalid {
            variable,
            value,
            expected: "an image reference NAME[:TAG] in lowercase, such as postgres:16-alpine"
                .to_owned(),
        }),
    }
}

fn timeout_setting(
    variable: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let seconds = number_setting(
        variable,
        value,
        1..=MAX_READY_TIMEOUT_SECS,
        default.as_secs(),
    )?;
    Ok(Duration::from_secs(seconds))
}

fn number_setting<T>(
    variable: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ConfigError::Invalid {
            variable,
            value,
            expected: format!("an integer from {} to {}", range.start(), range.end()),
        }),
    }
}

/// Parses [`KEEP_APP_IMAGES_VAR`] (`None` or empty for the default). `harness gc` reads it
/// without the other settings.
pub fn keep_app_images_setting(value: Option<String>) -> Result<usize, ConfigError> {
    number_setting(
        KEEP_APP_IMAGES_VAR,
        value.filter(|value| !value.is_empty()),
        0..=MAX_KEEP_APP_IMAGES,
        DEFAULT_KEEP_APP_IMAGES,
    )
}

fn workspace_setting(value: &str) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(value);
    if path.join("Cargo.toml").is_file() {
        Ok(path)
    } else {
        Err(ConfigError::Invalid {
            variable: WORKSPACE_VAR,
            value: value.to_owned(),
            expected: "the path of the LocalizeVideos workspace (a folder with Cargo.toml)"
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    fn invalid_variable(result: Result<Config, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid { variable, .. }) => variable,
            Ok(_) => panic!("config should be rejected"),
        }
    }

    #[test]
    fn defaults_apply_without_variables() {
        let config = config_from(&[]).expect("empty environment should parse");
        assert_eq!(config.postgres_image.to_string(), DEFAULT_POSTGRES_IMAGE);
        assert_eq!(config.runtime_image.to_string(), DEFAULT_RUNTIME_IMAGE);
        assert_eq!(config.app_image, None);
        assert_eq!(config.postgres_ready_timeout, Duration::from_secs(60));
        assert_eq!(config.app_ready_timeout, Duration::from_secs(30));
        assert_eq!(config.app_rust_log, "info");
        assert_eq!(config.keep_app_images, None);
        assert!(config.workspace.join("Cargo.toml").is_file());
        assert!(config.migrations_dir().ends_with("migrations"));
    }

    #[test]
    fn overrides_replace_defaults() {
        let config = config_from(&[
            (POSTGRES_IMAGE_VAR, "postgres:16-alpine"),
            (APP_IMAGE_VAR, "localizevideos/app:0123456789ab"),
            (POSTGRES_READY_TIMEOUT_VAR, "90"),
            (ARGON2_MEMORY_VAR, "4096"),
            (APP_RUST_LOG_VAR, "info,localizevideos_app=debug"),
            (KEEP_APP_IMAGES_VAR, "0"),
        ])
        .expect("valid overrides should parse");
        assert_eq!(config.postgres_image.name, "postgres");
        assert_eq!(config.postgres_image.tag, "16-alpine");
        assert!(!config.postgres_image.is_ours());
        assert_eq!(
            config.app_image.map(|image| image.to_string()),
            Some("localizevideos/app:0123456789ab".to_owned())
        );
        assert_eq!(config.postgres_ready_timeout, Duration::from_secs(90));
        assert_eq!(config.argon2.memory_kib, 4096);
        assert_eq!(config.app_rust_log, "info,localizevideos_app=debug");
        assert_eq!(config.keep_app_images, Some(0));
    }

    #[test]
    fn empty_value_counts_as_unset() {
        let config = config_from(&[(APP_IMAGE_VAR, "")]).expect("empty value should parse");
        assert_eq!(config.app_image, None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&str, &str)] = &[
            (POSTGRES_IMAGE_VAR, "Postgres:16"),
            (RUNTIME_IMAGE_VAR, "debian:"),
            (APP_IMAGE_VAR, "app@sha256:abc"),
            (POSTGRES_READY_TIMEOUT_VAR, "0"),
            (APP_READY_TIMEOUT_VAR, "ten"),
            (ARGON2_MEMORY_VAR, "4"),
            (ARGON2_ITERATIONS_VAR, "-1"),
            (APP_RUST_LOG_VAR, "localizevideos_app=loud"),
            (KEEP_APP_IMAGES_VAR, "-1"),
            (WORKSPACE_VAR, "/nonexistent/workspace"),
        ];
        for (variable, value) in cases {
            let rejected = invalid_variable(config_from(&[(variable, value)]));
            assert_eq!(rejected, *variable, "{variable}={value} should be rejected");
        }
    }

    #[test]
    fn error_message_shows_value_and_expectation() {
        let error = config_from(&[(APP_READY_TIMEOUT_VAR, "ten")])
            .expect_err("a non-numeric timeout should be rejected");
        let message = error.to_string();
        assert!(
            message.contains("HARNESS_APP_READY_TIMEOUT_SECS"),
            "{message}"
        );
        assert!(message.contains("\"ten\""), "{message}");
        assert!(message.contains("an integer from 1 to 3600"), "{message}");
    }

    #[test]
    fn image_references_parse() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("postgres", Some(("postgres", "latest"))),
            ("postgres:16-alpine", Some(("postgres", "16-alpine"))),
            (
                "registry:5000/team/pg",
                Some(("registry:5000/team/pg", "latest")),
            ),
            (
                "registry:5000/team/pg:15",
                Some(("registry:5000/team/pg", "15")),
            ),
            (
                "localizevideos/app:0123456789ab",
                Some(("localizevideos/app", "0123456789ab")),
            ),
            ("UPPER:1", None),
            ("name:", None),
            ("name:-bad", None),
            ("a//b:1", None),
        ];
        for (reference, expected) in cases {
            let parsed = ImageRef::parse(reference);
            let parsed = parsed.as_ref().map(|i| (i.name.as_str(), i.tag.as_str()));
            assert_eq!(parsed, *expected, "parsing {reference:?}");
        }
    }
}
