//! The harness configuration file: a TOML document whose keys mirror the HARNESS_* variables,
//! plus the preset, the check selection and the report folder. Every key is checked: an
//! unknown key, a value of the wrong type and a value out of range are errors that name the key,
//! the file and the line.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::SettingsError;
use super::keys::{self, VARIABLE_SETTINGS, ValueType, VariableSetting};
use super::preset::Preset;

/// A value read from the file, with the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    /// The parsed value.
    pub value: T,
    /// Line of the value, from 1.
    pub line: usize,
}

/// The settings a configuration file sets. A missing key is `None` or absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileLayer {
    /// Path the file was read from.
    pub path: PathBuf,
    /// `preset`.
    pub preset: Option<Located<Preset>>,
    /// Keys with an environment variable, each with its value in the variable's text form.
    pub variables: Vec<(&'static VariableSetting, Located<String>)>,
    /// `checks.only`: the checks to run.
    pub only: Option<Located<Vec<String>>>,
    /// `checks.skip`: the checks not to run.
    pub skip: Option<Located<Vec<String>>>,
    /// `report.dir`, as written.
    pub report_dir: Option<Located<PathBuf>>,
}

/// Keys of the `checks` table.
const CHECKS_KEYS: &[&str] = &["only", "skip"];
/// Keys of the `report` table.
const REPORT_KEYS: &[&str] = &["dir"];

impl FileLayer {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks `text`, the content of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SettingsError> {
        let parser = Parser { path, text };
        let root = DeTable::parse(text).map_err(|error| SettingsError::Syntax {
            path: path.to_owned(),
            line: error.span().map_or(1, |span| parser.line(span.start)),
            message: error.message().trim().to_owned(),
        })?;

        let mut layer = Self {
            path: path.to_owned(),
            ..Self::default()
        };
        for (key, value) in root.get_ref() {
            let name = key.get_ref().as_ref();
            match name {
                "preset" => layer.preset = Some(parser.preset(value)?),
                "checks" => {
                    for (key, value) in parser.table(name, value, CHECKS_KEYS)? {
                        let list = parser.check_names(&format!("checks.{key}"), value)?;
                        if key == "only" {
                            layer.only = Some(list);
                        } else {
                            layer.skip = Some(list);
                        }
                    }
                }
                "report" => {
                    for (_, value) in parser.table(name, value, REPORT_KEYS)? {
                        layer.report_dir = Some(parser.report_dir(value)?);
                    }
                }
                _ if is_variable_table(name) => {
                    let valid: Vec<&str> = VARIABLE_SETTINGS
                        .iter()
                        .filter(|setting| setting.table == name)
                        .map(|setting| setting.key)
                        .collect();
                    for (key, value) in parser.table(name, value, &valid)? {
                        let setting = VARIABLE_SETTINGS
                            .iter()
                            .find(|setting| setting.table == name && setting.key == key)
                            .expect("the key was checked against the table's keys");
                        layer
                            .variables
                            .push((setting, parser.variable(setting, value)?));
                    }
                }
                _ => {
                    return Err(SettingsError::UnknownKey {
                        key: name.to_owned(),
                        path: path.to_owned(),
                        line: parser.line(key.span().start),
                        valid: top_level_keys().join(", "),
                    });
                }
            }
        }
        Ok(layer)
    }
}

fn is_variable_table(name: &str) -> bool {
    VARIABLE_SETTINGS
        .iter()
        .any(|setting| setting.table == name)
}

/// Returns the keys allowed at the top level of the file.
fn top_level_keys() -> Vec<&'static str> {
    let mut names = vec!["preset"];
    for setting in VARIABLE_SETTINGS {
        if !names.contains(&setting.table) {
            names.push(setting.table);
        }
    }
    names.extend(["checks", "report"]);
    names
}

/// The file being parsed, for line numbers and errors.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Parser<'_> {
    /// Returns the line, from 1, of byte offset `offset`.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
            + 1
    }

    /// Returns the value as written in the file, on one line.
    fn written(&self, value: &Spanned<DeValue<'_>>) -> String {
        let span = value.span();
        let text = self.text.get(span).unwrap_or("");
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn invalid_type(
        &self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        expected: &'static str,
    ) -> SettingsError {
        SettingsError::InvalidType {
            key: key.to_owned(),
            path: self.path.to_owned(),
            line: self.line(value.span().start),
            expected,
            found: value.get_ref().type_str(),
        }
    }

    fn invalid_value(
        &self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        expected: String,
    ) -> SettingsError {
        SettingsError::InvalidFileValue {
            key: key.to_owned(),
            value: self.written(value),
            path: self.path.to_owned(),
            line: self.line(value.span().start),
            expected,
        }
    }

    /// Returns the entries of table `name`, after checking that each key is in `valid`.
    fn table<'v, 'i>(
        &self,
        name: &str,
        value: &'v Spanned<DeValue<'i>>,
        valid: &[&str],
    ) -> Result<Vec<(&'v str, &'v Spanned<DeValue<'i>>)>, SettingsError> {
        let Some(table) = value.get_ref().as_table() else {
            return Err(self.invalid_type(name, value, "table"));
        };
        let mut entries = Vec::new();
        for (key, value) in table {
            let key_name: &str = key.get_ref().as_ref();
            if !valid.contains(&key_name) {
                return Err(SettingsError::UnknownKey {
                    key: format!("{name}.{key_name}"),
                    path: self.path.to_owned(),
                    line: self.line(key.span().start),
                    valid: valid
                        .iter()
                        .map(|key| format!("{name}.{key}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            entries.push((key_name, value));
        }
        Ok(entries)
    }

    fn preset(&self, value: &Spanned<DeValue<'_>>) -> Result<Located<Preset>, SettingsError> {
        let Some(name) = value.get_ref().as_str() else {
            return Err(self.invalid_type("preset", value, "string"));
        };
        match Preset::parse(name) {
            Some(preset) => Ok(Located {
                value: preset,
                line: self.line(value.span().start),
            }),
            None => Err(self.invalid_value(
                "preset",
                value,
                format!("one of {}", quoted_list(Preset::NAMES)),
            )),
        }
    }

    /// Reads a key with an environment variable, and checks the value with the variable's
    /// parser, so that the file accepts exactly what the variable accepts.
    fn variable(
        &self,
        setting: &VariableSetting,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Located<String>, SettingsError> {
        let key = setting.dotted_key();
        let text = match (setting.value_type, value.get_ref()) {
            (ValueType::String, DeValue::String(text)) => text.to_string(),
            (ValueType::Integer, DeValue::Integer(integer)) => {
                // TOML integers are 64-bit signed, and the text form keeps a seed above
                // i64::MAX or a negative count for the range check below.
                match i128::from_str_radix(integer.as_str(), integer.radix()) {
                    Ok(number) => number.to_string(),
                    Err(_) => integer.as_str().to_owned(),
                }
            }
            _ => return Err(self.invalid_type(&key, value, setting.value_type.name())),
        };
        if let Err(expected) = keys::check_value(setting.variable, &text) {
            return Err(self.invalid_value(&key, value, expected));
        }
        Ok(Located {
            value: text,
            line: self.line(value.span().start),
        })
    }

    /// Reads `checks.only` or `checks.skip`: an array of check names.
    fn check_names(
        &self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Located<Vec<String>>, SettingsError> {
        let Some(array) = value.get_ref().as_array() else {
            return Err(self.invalid_type(key, value, "array of check names"));
        };
        let mut names = Vec::new();
        for item in array.iter() {
            let Some(name) = item.get_ref().as_str() else {
                return Err(self.invalid_type(key, item, "string"));
            };
            if !scenarios::CHECKS.contains(&name) {
                return Err(self.invalid_value(
                    key,
                    item,
                    format!("a check name, one of {}", scenarios::CHECKS.join(", ")),
                ));
            }
            names.push(name.to_owned());
        }
        Ok(Located {
            value: names,
            line: self.line(value.span().start),
        })
    }

    fn report_dir(&self, value: &Spanned<DeValue<'_>>) -> Result<Located<PathBuf>, SettingsError> {
        let Some(dir) = value.get_ref().as_str() else {
            return Err(self.invalid_type("report.dir", value, "string"));
        };
        if dir.trim().is_empty() {
            return Err(self.invalid_value(
                "report.dir",
                value,
                "a folder path, absolute or relative to the workspace root".to_owned(),
            ));
        }
        Ok(Located {
            value: PathBuf::from(dir),
            line: self.line(value.span().start),
        })
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileLayer, SettingsError> {
        FileLayer::parse(Path::new("/cfg/harness.toml"), text)
    }

    fn value_of(layer: &FileLayer, key: &str) -> Option<(String, usize)> {
        layer
            .variables
            .iter()
            .find(|(setting, _)| setting.dotted_key() == key)
            .map(|(_, located)| (located.value.clone(), located.line))
    }

    #[test]
    fn config_keys_parse_with_lines() {
        let text = "preset = \"release\"\n\
                    [images]\n\
                    postgres = \"postgres:16-alpine\"\n\
                    [timeouts]\n\
                    recovery_bound_ms = 2_500\n\
                    [faults]\n\
                    seed = 0xff\n\
                    [checks]\n\
                    skip = [\"chaos.latency\"]\n\
                    [report]\n\
                    dir = \"out\"\n";
        let layer = parse(text).expect("config file should parse");

        assert_eq!(
            layer.preset.as_ref().map(|p| (p.value, p.line)),
            Some((Preset::Release, 1))
        );
        assert_eq!(
            value_of(&layer, "images.postgres"),
            Some(("postgres:16-alpine".to_owned(), 3))
        );
        assert_eq!(
            value_of(&layer, "timeouts.recovery_bound_ms"),
            Some(("2500".to_owned(), 5))
        );
        assert_eq!(value_of(&layer, "faults.seed"), Some(("255".to_owned(), 7)));
        assert_eq!(
            layer.skip.as_ref().map(|s| (s.value.clone(), s.line)),
            Some((vec!["chaos.latency".to_owned()], 9))
        );
        assert_eq!(layer.only, None);
        assert_eq!(
            layer.report_dir.as_ref().map(|d| d.value.clone()),
            Some(PathBuf::from("out"))
        );
    }

    #[test]
    fn dotted_and_inline_config_keys_parse() {
        let text = "timeouts.app_ready_secs = 45\napp = { rust_log = \"debug\" }\n";
        let layer = parse(text).expect("dotted keys and inline tables should parse");

        assert_eq!(
            value_of(&layer, "timeouts.app_ready_secs"),
            Some(("45".to_owned(), 1))
        );
        assert_eq!(
            value_of(&layer, "app.rust_log"),
            Some(("debug".to_owned(), 2))
        );
    }

    #[test]
    fn empty_config_file_sets_nothing() {
        let layer = parse("# only a comment\n[images]\n").expect("empty tables should parse");

        assert_eq!(layer.variables, Vec::new());
        assert_eq!(layer.preset, None);
    }

    #[test]
    fn unknown_config_keys_name_key_and_line() {
        let cases: &[(&str, &str, usize)] = &[
            ("colour = true\n", "colour", 1),
            (
                "[timeouts]\npostgres_ready = 5\n",
                "timeouts.postgres_ready",
                2,
            ),
            ("[images]\n\n\npostgress = \"x\"\n", "images.postgress", 4),
            ("[checks]\nonly = []\nexclude = []\n", "checks.exclude", 3),
            ("[report]\npath = \"x\"\n", "report.path", 2),
        ];
        for (text, expected_key, expected_line) in cases {
            match parse(text) {
                Err(SettingsError::UnknownKey {
                    key, line, path, ..
                }) => {
                    assert_eq!(key, *expected_key, "{text:?}");
                    assert_eq!(line, *expected_line, "{text:?}");
                    assert_eq!(path, Path::new("/cfg/harness.toml"), "{text:?}");
                }
                other => panic!("{text:?} should be an unknown key, got {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_config_values_name_the_range() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[timeouts]\npostgres_ready_secs = 0\n",
                "timeouts.postgres_ready_secs = 0",
                "an integer from 1 to 3600",
            ),
            (
                "[timeouts]\nrecovery_bound_ms = -5\n",
                "timeouts.recovery_bound_ms = -5",
                "an integer from 1 to",
            ),
            (
                "[app]\nargon2_iterations = 101\n",
                "app.argon2_iterations = 101",
                "an integer from 1 to 100",
            ),
            (
                "[crud_properties]\ncases = 0\n",
                "crud_properties.cases = 0",
                "an integer from 1 to 4294967295",
            ),
            (
                "[images]\nkeep_app_images = 1001\n",
                "images.keep_app_images = 1001",
                "from 0 to 1000",
            ),
            (
                "[images]\nruntime = \"Debian\"\n",
                "images.runtime = \"Debian\"",
                "NAME[:TAG]",
            ),
            (
                "[app]\nrust_log = \"x=loud\"\n",
                "app.rust_log = \"x=loud\"",
                "tracing filter",
            ),
            (
                "preset = \"fast\"\n",
                "preset = \"fast\"",
                "\"default\", \"release\"",
            ),
            (
                "[checks]\nonly = [\"crud.smok\"]\n",
                "checks.only = \"crud.smok\"",
                "crud.smoke",
            ),
            (
                "[report]\ndir = \" \"\n",
                "report.dir = \" \"",
                "a folder path",
            ),
        ];
        for (text, shown, expected) in cases {
            let error = parse(text).expect_err(&format!("{text:?} should be rejected"));
            assert!(
                matches!(error, SettingsError::InvalidFileValue { line: 1 | 2, .. }),
                "{text:?}: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains(shown), "{text:?}: {message}");
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(
                message.contains("/cfg/harness.toml line"),
                "{text:?}: {message}"
            );
        }
    }

    #[test]
    fn wrong_config_types_are_rejected() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[timeouts]\napp_ready_secs = \"30\"\n",
                "timeouts.app_ready_secs",
                "integer",
            ),
            ("[images]\npostgres = 15\n", "images.postgres", "string"),
            ("images = \"postgres\"\n", "images", "table"),
            (
                "[checks]\nonly = \"crud.smoke\"\n",
                "checks.only",
                "array of check names",
            ),
            ("[checks]\nskip = [1]\n", "checks.skip", "string"),
            ("preset = true\n", "preset", "string"),
        ];
        for (text, expected_key, expected_type) in cases {
            match parse(text) {
                Err(SettingsError::InvalidType { key, expected, .. }) => {
                    assert_eq!(key, *expected_key, "{text:?}");
                    assert_eq!(expected, *expected_type, "{text:?}");
                }
                other => panic!("{text:?} should be a type error, got {other:?}"),
            }
        }
    }

    #[test]
    fn config_syntax_error_names_line() {
        let error = parse("[images]\npostgres = \n").expect_err("a missing value is invalid TOML");

        match error {
            SettingsError::Syntax { line, .. } => assert_eq!(line, 2),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    /// Returns whether `line` reads `key = value`, as opposed to a sentence of a comment.
    fn is_assignment(line: &str) -> bool {
        match line.split_once(" = ") {
            Some((key, _)) => !key.is_empty() && !key.contains(' '),
            None => false,
        }
    }

    #[test]
    fn committed_config_file_parses_uncommented() {
        // Every commented `key = value` line of the committed file, uncommented, must be a
        // valid setting, so that the documented examples work.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.config/harness.toml");
        let text = std::fs::read_to_string(&path).expect("the committed config file should exist");
        let committed = parse(&text).expect("the committed config file should parse");
        assert_eq!(
            committed.variables,
            Vec::new(),
            "every key should be commented out"
        );

        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_assignment(rest) => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let layer = parse(&uncommented).expect("the uncommented config file should parse");
        assert_eq!(
            layer.variables.len(),
            VARIABLE_SETTINGS.len(),
            "{uncommented}"
        );
        assert!(layer.preset.is_some());
        assert!(layer.only.is_some());
        assert!(layer.skip.is_some());
        assert!(layer.report_dir.is_some());
    }
}
