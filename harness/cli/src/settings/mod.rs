//! Harness settings from five layers, each overriding the one before: the defaults, a TOML
//! configuration file, a preset, environment variables and `harness validate` flags.
//!
//! The code that runs the checks reads HARNESS_* and PROPTEST_* variables. The file and the
//! preset reach it through [`Effective::export`], which sets the variables that the
//! environment leaves unset before any thread starts.

pub mod error;
mod file;
mod keys;
pub mod preset;
mod print;

use std::path::{Path, PathBuf};

use harness::config::{Config, ConfigError, ImageRef, WORKSPACE_VAR};
use scenarios::crud_properties;

pub use error::SettingsError;
use file::FileLayer;
use keys::{VARIABLE_SETTINGS, VariableSetting};
pub use preset::Preset;
pub use print::render;

use crate::selection::Selection;

/// Variable with the path of the configuration file.
pub const CONFIG_VAR: &str = "HARNESS_CONFIG";
/// Path of the configuration file in the workspace, read when it exists and neither `--config`
/// nor [`CONFIG_VAR`] names another.
pub const DEFAULT_CONFIG_PATH: &str = ".config/harness.toml";

/// Origin of an effective value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// A key of the configuration file.
    File {
        /// Path of the file.
        path: PathBuf,
        /// Line of the value, from 1.
        line: usize,
    },
    /// The preset.
    Preset(Preset),
    /// An environment variable.
    Variable(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

/// A value and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The effective value.
    pub value: T,
    /// Layer the value comes from.
    pub source: Source,
}

/// The command-line flags that take part in the layering. `None` or empty means not given.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags<'a> {
    /// `--config`.
    pub config: Option<&'a Path>,
    /// `--preset`.
    pub preset: Option<Preset>,
    /// `--only`, split at commas.
    pub only: &'a [String],
    /// `--report`.
    pub report: Option<&'a Path>,
    /// `--app-image`.
    pub app_image: Option<&'a ImageRef>,
    /// `--cases`.
    pub cases: Option<u32>,
    /// `--seed`.
    pub seed: Option<u64>,
}

/// The effective settings after all layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// Configuration file that was read, if any.
    pub file: Option<PathBuf>,
    /// Workspace root, which relative paths of the file are resolved against.
    pub workspace: PathBuf,
    /// Preset in effect.
    pub preset: Sourced<Preset>,
    /// Each setting with an environment variable, in [`VARIABLE_SETTINGS`] order, and its value
    /// in the variable's text form. `None` means the built-in default.
    pub variables: Vec<(&'static VariableSetting, Option<Sourced<String>>)>,
    /// Checks to run, as `--only` takes them. Empty means every check.
    pub only: Sourced<Vec<String>>,
    /// Report folder, or `None` for the run's folder under target/harness/reports/.
    pub report_dir: Option<Sourced<PathBuf>>,
}

/// Reads the configuration file that `flags` or the environment names, and combines it with
/// the preset, the process environment and `flags`.
pub fn load(flags: &Flags<'_>) -> Result<Effective, SettingsError> {
    let lookup = |name: &str| {
        std::env::var_os(name)
            .map(|value| value.to_string_lossy().into_owned())
            .filter(|value| !value.trim().is_empty())
    };
    let workspace = workspace(&lookup)?;
    let file = match locate_file(flags.config, &lookup, &workspace)? {
        Some(path) => Some(FileLayer::read(&path)?),
        None => None,
    };
    resolve(file, flags, &lookup, workspace)
}

/// Returns the workspace root from [`WORKSPACE_VAR`], or the one the harness was built in.
fn workspace(lookup: &impl Fn(&str) -> Option<String>) -> Result<PathBuf, SettingsError> {
    // Only the workspace variable is passed on, so an error can only be about it.
    let config = Config::from_lookup(|name| {
        if name == WORKSPACE_VAR {
            lookup(name)
        } else {
            None
        }
    });
    match config {
        Ok(config) => Ok(config.workspace),
        Err(ConfigError::Invalid {
            variable,
            value,
            expected,
        }) => Err(SettingsError::InvalidVariable {
            variable,
            value,
            expected,
        }),
    }
}

/// Returns the path of the configuration file to read: `--config`, else [`CONFIG_VAR`], else
/// [`DEFAULT_CONFIG_PATH`] in the workspace when it exists. A file named by the flag or the
/// variable must exist.
fn locate_file(
    flag: Option<&Path>,
    lookup: &impl Fn(&str) -> Option<String>,
    workspace: &Path,
) -> Result<Option<PathBuf>, SettingsError> {
    let named = match (flag, lookup(CONFIG_VAR)) {
        (Some(path), _) => Some((path.to_owned(), "--config")),
        (None, Some(path)) => Some((PathBuf::from(path), CONFIG_VAR)),
        (None, None) => None,
    };
    if let Some((path, origin)) = named {
        if !path.is_file() {
            return Err(SettingsError::NotFound { path, origin });
        }
        return Ok(Some(path));
    }
    let default = workspace.join(DEFAULT_CONFIG_PATH);
    Ok(default.is_file().then_some(default))
}

/// Combines the layers: defaults < `file` < preset < variables from `lookup` < `flags`.
fn resolve(
    file: Option<FileLayer>,
    flags: &Flags<'_>,
    lookup: &impl Fn(&str) -> Option<String>,
    workspace: PathBuf,
) -> Result<Effective, SettingsError> {
    let preset = match (flags.preset, &file) {
        (Some(preset), _) => Sourced {
            value: preset,
            source: Source::Flag("--preset"),
        },
        (
            None,
            Some(FileLayer {
                preset: Some(located),
                path,
                ..
            }),
        ) => Sourced {
            value: located.value,
            source: Source::File {
                path: path.clone(),
                line: located.line,
            },
        },
        _ => Sourced {
            value: Preset::Default,
            source: Source::Default,
        },
    };
    if let Some(file) = &file {
        check_preset_conflicts(file)?;
    }

    let preset_variables = preset.value.variables();
    let mut variables = Vec::new();
    for setting in VARIABLE_SETTINGS {
        let mut value = None;
        if let Some(file) = &file
            && let Some((_, located)) = file.variables.iter().find(|(s, _)| *s == setting)
        {
            value = Some(Sourced {
                value: located.value.clone(),
                source: Source::File {
                    path: file.path.clone(),
                    line: located.line,
                },
            });
        }
        if let Some((_, text)) = preset_variables
            .iter()
            .find(|(variable, _)| *variable == setting.variable)
        {
            value = Some(Sourced {
                value: text.clone(),
                source: Source::Preset(preset.value),
            });
        }
        // An empty variable counts as unset, as in the code that reads the variables, so the
        // file's value is exported over it.
        if let Some(text) = lookup(setting.variable).filter(|text| !text.trim().is_empty()) {
            if let Err(expected) = keys::check_value(setting.variable, &text) {
                return Err(SettingsError::InvalidVariable {
                    variable: setting.variable,
                    value: text,
                    expected,
                });
            }
            value = Some(Sourced {
                value: text,
                source: Source::Variable(setting.variable),
            });
        }
        if let Some(text) = flag_value(flags, setting.variable) {
            value = Some(Sourced {
                value: text,
                source: Source::Flag(setting.flag.expect("only settings with a flag have one")),
            });
        }
        variables.push((setting, value));
    }

    let only = resolve_selection(file.as_ref(), flags, preset.value)?;
    let report_dir = match (flags.report, &file) {
        (Some(dir), _) => Some(Sourced {
            value: dir.to_owned(),
            source: Source::Flag("--report"),
        }),
        (None, Some(file)) => file.report_dir.as_ref().map(|located| Sourced {
            value: workspace.join(&located.value),
            source: Source::File {
                path: file.path.clone(),
                line: located.line,
            },
        }),
        (None, None) => None,
    };

    Ok(Effective {
        file: file.map(|file| file.path),
        workspace,
        preset,
        variables,
        only,
        report_dir,
    })
}

/// Returns the value of the flag that overrides `variable`, in the variable's text form.
fn flag_value(flags: &Flags<'_>, variable: &str) -> Option<String> {
    match variable {
        harness::config::APP_IMAGE_VAR => flags.app_image.map(|image| image.to_string()),
        crud_properties::CASES_VAR => flags.cases.map(|cases| cases.to_string()),
        crud_properties::SEED_VAR => flags.seed.map(|seed| seed.to_string()),
        _ => None,
    }
}

/// Rejects a key that the preset named in the same file overrides, because the key would
/// silently have no effect.
fn check_preset_conflicts(file: &FileLayer) -> Result<(), SettingsError> {
    let Some(located) = &file.preset else {
        return Ok(());
    };
    let preset = located.value;
    let conflict = |key: String, line: usize| SettingsError::PresetConflict {
        key,
        path: file.path.clone(),
        line,
        preset: preset.name(),
    };
    for (variable, _) in preset.variables() {
        if let Some((setting, value)) = file.variables.iter().find(|(s, _)| s.variable == variable)
        {
            return Err(conflict(setting.dotted_key(), value.line));
        }
    }
    if preset.selects_every_check() {
        if let Some(only) = &file.only {
            return Err(conflict("checks.only".to_owned(), only.line));
        }
        if let Some(skip) = &file.skip {
            return Err(conflict("checks.skip".to_owned(), skip.line));
        }
    }
    Ok(())
}

/// Returns the checks to run: `--only`, else every check for a preset that runs them all,
/// else the file's `checks.only` minus `checks.skip`, else every check.
fn resolve_selection(
    file: Option<&FileLayer>,
    flags: &Flags<'_>,
    preset: Preset,
) -> Result<Sourced<Vec<String>>, SettingsError> {
    if !flags.only.is_empty() {
        Selection::parse(flags.only).map_err(SettingsError::Selection)?;
        return Ok(Sourced {
            value: flags.only.to_vec(),
            source: Source::Flag("--only"),
        });
    }
    if preset.selects_every_check() {
        return Ok(Sourced {
            value: Vec::new(),
            source: Source::Preset(preset),
        });
    }
    let Some(file) = file.filter(|file| file.only.is_some() || file.skip.is_some()) else {
        return Ok(Sourced {
            value: Vec::new(),
            source: Source::Default,
        });
    };

    let mut names: Vec<String> = match &file.only {
        Some(only) => only.value.clone(),
        None => scenarios::CHECKS
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
    };
    let mut line = file.only.as_ref().map(|only| only.line);
    if let Some(skip) = &file.skip {
        names.retain(|name| !skip.value.contains(name));
        line = line.or(Some(skip.line));
    }
    if names.is_empty() {
        return Err(SettingsError::Selection(format!(
            "checks.only and checks.skip in {} select no check; remove a name from \
             checks.skip or add one to checks.only",
            file.path.display()
        )));
    }
    Ok(Sourced {
        value: names,
        source: Source::File {
            path: file.path.clone(),
            line: line.expect("only or skip is set"),
        },
    })
}

impl Effective {
    /// Sets the environment variables whose value comes from the file or the preset, so that
    /// the code that reads them gets the effective value. Variables already set are left alone,
    /// because they override the file and the preset.
    ///
    /// # Safety
    ///
    /// No other thread may run, because `std::env::set_var` is not thread-safe.
    pub unsafe fn export(&self) {
        for (setting, value) in &self.variables {
            let Some(value) = value else {
                continue;
            };
            if matches!(value.source, Source::File { .. } | Source::Preset(_)) {
                // SAFETY: the caller guarantees that no other thread runs.
                unsafe { std::env::set_var(setting.variable, &value.value) };
            }
        }
    }

    /// Returns the checks to run, as `--only` takes them (empty for every check).
    pub fn only(&self) -> Vec<String> {
        self.only.value.clone()
    }

    /// Returns the report folder, or `None` for the run's default folder.
    pub fn report_dir(&self) -> Option<PathBuf> {
        self.report_dir.as_ref().map(|dir| dir.value.clone())
    }

    /// Returns the effective value of `variable` and its source.
    #[cfg(test)]
    pub fn variable(&self, variable: &str) -> Option<&Sourced<String>> {
        self.variables
            .iter()
            .find(|(setting, _)| setting.variable == variable)
            .and_then(|(_, value)| value.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const FILE: &str = "/cfg/harness.toml";

    /// Resolves `file_text` (if any) with the variables `env` and `flags`.
    fn resolve_with(
        file_text: Option<&str>,
        env: &[(&str, &str)],
        flags: &Flags<'_>,
    ) -> Result<Effective, SettingsError> {
        let file = file_text.map(|text| {
            FileLayer::parse(Path::new(FILE), text).expect("test config file should parse")
        });
        let env: HashMap<String, String> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let lookup = |name: &str| env.get(name).cloned();
        resolve(file, flags, &lookup, PathBuf::from("/workspace"))
    }

    fn file_source(line: usize) -> Source {
        Source::File {
            path: PathBuf::from(FILE),
            line,
        }
    }

    #[test]
    fn config_precedence_table() {
        let image = ImageRef::parse("localizevideos/app:flag").expect("valid image");
        let only_flag = vec!["crud.smoke".to_owned()];
        struct Case<'a> {
            name: &'a str,
            file: Option<&'a str>,
            env: &'a [(&'a str, &'a str)],
            flags: Flags<'a>,
            variable: &'a str,
            expected: Option<(&'a str, Source)>,
        }
        let cases = [
            Case {
                name: "default leaves the variable unset",
                file: None,
                env: &[],
                flags: Flags::default(),
                variable: "HARNESS_APP_READY_TIMEOUT_SECS",
                expected: None,
            },
            Case {
                name: "file sets a timeout",
                file: Some("[timeouts]\napp_ready_secs = 45\n"),
                env: &[],
                flags: Flags::default(),
                variable: "HARNESS_APP_READY_TIMEOUT_SECS",
                expected: Some(("45", file_source(2))),
            },
            Case {
                name: "variable overrides the file",
                file: Some("[timeouts]\napp_ready_secs = 45\n"),
                env: &[("HARNESS_APP_READY_TIMEOUT_SECS", "50")],
                flags: Flags::default(),
                variable: "HARNESS_APP_READY_TIMEOUT_SECS",
                expected: Some(("50", Source::Variable("HARNESS_APP_READY_TIMEOUT_SECS"))),
            },
            Case {
                name: "empty variable counts as unset",
                file: Some("[timeouts]\napp_ready_secs = 45\n"),
                env: &[("HARNESS_APP_READY_TIMEOUT_SECS", "")],
                flags: Flags::default(),
                variable: "HARNESS_APP_READY_TIMEOUT_SECS",
                expected: Some(("45", file_source(2))),
            },
            Case {
                name: "flag overrides variable and file",
                file: Some("[images]\napp = \"localizevideos/app:file\"\n"),
                env: &[("HARNESS_APP_IMAGE", "localizevideos/app:env")],
                flags: Flags {
                    app_image: Some(&image),
                    ..Flags::default()
                },
                variable: "HARNESS_APP_IMAGE",
                expected: Some(("localizevideos/app:flag", Source::Flag("--app-image"))),
            },
            Case {
                name: "preset overrides nothing set",
                file: None,
                env: &[],
                flags: Flags {
                    preset: Some(Preset::Release),
                    ..Flags::default()
                },
                variable: "PROPTEST_CASES",
                expected: Some(("512", Source::Preset(Preset::Release))),
            },
            Case {
                name: "preset flag overrides the file",
                file: Some("[crud_properties]\ncases = 16\n"),
                env: &[],
                flags: Flags {
                    preset: Some(Preset::Release),
                    ..Flags::default()
                },
                variable: "PROPTEST_CASES",
                expected: Some(("512", Source::Preset(Preset::Release))),
            },
            Case {
                name: "variable overrides the preset",
                file: Some("preset = \"release\"\n"),
                env: &[("PROPTEST_CASES", "1000")],
                flags: Flags::default(),
                variable: "PROPTEST_CASES",
                expected: Some(("1000", Source::Variable("PROPTEST_CASES"))),
            },
            Case {
                name: "flag overrides the preset",
                file: None,
                env: &[("PROPTEST_CASES", "1000")],
                flags: Flags {
                    preset: Some(Preset::Release),
                    cases: Some(8),
                    ..Flags::default()
                },
                variable: "PROPTEST_CASES",
                expected: Some(("8", Source::Flag("--cases"))),
            },
            Case {
                name: "default preset sets no cases",
                file: Some("preset = \"default\"\n[crud_properties]\ncases = 16\n"),
                env: &[],
                flags: Flags::default(),
                variable: "PROPTEST_CASES",
                expected: Some(("16", file_source(3))),
            },
            Case {
                name: "only flag leaves variables alone",
                file: Some("[faults]\nseed = 7\n"),
                env: &[],
                flags: Flags {
                    only: &only_flag,
                    ..Flags::default()
                },
                variable: "HARNESS_FAULT_SEED",
                expected: Some(("7", file_source(2))),
            },
        ];
        for case in &cases {
            let effective = resolve_with(case.file, case.env, &case.flags)
                .unwrap_or_else(|error| panic!("{}: {error}", case.name));
            let actual = effective
                .variable(case.variable)
                .map(|value| (value.value.as_str(), value.source.clone()));
            let expected = case
                .expected
                .as_ref()
                .map(|(value, source)| (*value, source.clone()));
            assert_eq!(actual, expected, "{}", case.name);
        }
    }

    #[test]
    fn config_selection_precedence() {
        let only_flag = vec!["crud.smoke".to_owned()];
        let release = Flags {
            preset: Some(Preset::Release),
            ..Flags::default()
        };
        let with_only = Flags {
            only: &only_flag,
            ..Flags::default()
        };
        let skip_file = "[checks]\nskip = [\"chaos.latency\", \"chaos.pause\"]\n";
        let only_file = "[checks]\nonly = [\"crud.smoke\", \"migrations.lint\"]\n\
                         skip = [\"crud.smoke\"]\n";
        let every_check: Vec<String> = Vec::new();
        let without_skipped: Vec<String> = scenarios::CHECKS
            .iter()
            .filter(|name| !["chaos.latency", "chaos.pause"].contains(name))
            .map(|name| (*name).to_owned())
            .collect();

        // Name, file, flags, expected checks and their source.
        type SelectionCase<'a> = (
            &'a str,
            Option<&'a str>,
            &'a Flags<'a>,
            &'a Vec<String>,
            Source,
        );
        let cases: [SelectionCase<'_>; 5] = [
            (
                "default runs every check",
                None,
                &Flags::default(),
                &every_check,
                Source::Default,
            ),
            (
                "file skip removes checks",
                Some(skip_file),
                &Flags::default(),
                &without_skipped,
                file_source(2),
            ),
            (
                "file only minus skip",
                Some(only_file),
                &Flags::default(),
                &vec!["migrations.lint".to_owned()],
                file_source(2),
            ),
            (
                "release preset runs every check",
                Some(skip_file),
                &release,
                &every_check,
                Source::Preset(Preset::Release),
            ),
            (
                "only flag overrides file",
                Some(skip_file),
                &with_only,
                &only_flag,
                Source::Flag("--only"),
            ),
        ];
        for (name, file, flags, expected, source) in cases {
            let effective =
                resolve_with(file, &[], flags).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(&effective.only.value, expected, "{name}");
            assert_eq!(effective.only.source, source, "{name}");
        }
    }

    #[test]
    fn config_selecting_nothing_is_rejected() {
        let text = "[checks]\nonly = [\"crud.smoke\"]\nskip = [\"crud.smoke\"]\n";
        let error = resolve_with(Some(text), &[], &Flags::default())
            .expect_err("an empty selection should be rejected");

        assert!(error.to_string().contains("select no check"), "{error}");
    }

    #[test]
    fn config_preset_conflicts_in_one_file() {
        let cases: &[(&str, &str, usize)] = &[
            (
                "preset = \"release\"\n[crud_properties]\ncases = 16\n",
                "crud_properties.cases",
                3,
            ),
            (
                "preset = \"release\"\n[checks]\nskip = [\"chaos.pause\"]\n",
                "checks.skip",
                3,
            ),
        ];
        for (text, expected_key, expected_line) in cases {
            match resolve_with(Some(text), &[], &Flags::default()) {
                Err(SettingsError::PresetConflict { key, line, .. }) => {
                    assert_eq!(key, *expected_key, "{text:?}");
                    assert_eq!(line, *expected_line, "{text:?}");
                }
                other => panic!("{text:?} should be a preset conflict, got {other:?}"),
            }
        }
    }

    #[test]
    fn config_rejects_invalid_variables() {
        let cases: &[(&str, &str)] = &[
            ("HARNESS_RECOVERY_BOUND_MS", "0"),
            ("HARNESS_FAULT_SEED", "-1"),
            ("PROPTEST_CASES", "many"),
            ("HARNESS_POSTGRES_IMAGE", "Postgres"),
        ];
        for (variable, value) in cases {
            match resolve_with(None, &[(variable, value)], &Flags::default()) {
                Err(SettingsError::InvalidVariable {
                    variable: rejected, ..
                }) => assert_eq!(rejected, *variable),
                other => panic!("{variable}={value} should be rejected, got {other:?}"),
            }
        }
    }

    #[test]
    fn config_report_dir_is_relative_to_workspace() {
        let report_flag = PathBuf::from("flag-dir");
        let file = "[report]\ndir = \"reports/latest\"\n";

        let from_file =
            resolve_with(Some(file), &[], &Flags::default()).expect("the settings should resolve");
        let from_flag = resolve_with(
            Some(file),
            &[],
            &Flags {
                report: Some(&report_flag),
                ..Flags::default()
            },
        )
        .expect("the settings should resolve");

        assert_eq!(
            from_file.report_dir(),
            Some(PathBuf::from("/workspace/reports/latest"))
        );
        assert_eq!(from_flag.report_dir(), Some(report_flag.clone()));
    }

    #[test]
    fn config_export_sets_file_values() {
        let file = "[timeouts]\napp_ready_secs = 45\n[faults]\nseed = 7\n";
        let effective = resolve_with(
            Some(file),
            &[("HARNESS_FAULT_SEED", "9")],
            &Flags::default(),
        )
        .expect("the settings should resolve");

        // SAFETY: nextest runs each test in a process of its own, so no other thread reads or
        // writes the environment. NOTE: under `cargo test`, tests share a process.
        unsafe {
            std::env::remove_var("HARNESS_APP_READY_TIMEOUT_SECS");
            std::env::remove_var("HARNESS_FAULT_SEED");
            effective.export();
        }

        let config = Config::from_env().expect("exported values should be valid");
        assert_eq!(config.app_ready_timeout.as_secs(), 45);
        assert_eq!(
            std::env::var("HARNESS_FAULT_SEED").ok(),
            None,
            "a value that a variable overrides is not exported"
        );
    }
}
