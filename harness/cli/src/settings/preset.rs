//! Presets: named sets of settings chosen with `--preset` or `preset = "..."` in the file.

use std::fmt;

use scenarios::crud_properties;

/// Cases of crud.properties in the `release` preset: eight times the default of 64, because more
/// cases reach rarer call sequences. The check's time grows with the number of cases.
pub const RELEASE_PROPERTY_CASES: u32 = 512;

/// A named set of settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preset {
    /// The defaults: nothing is changed.
    #[default]
    Default,
    /// Every check, with higher case counts than for daily runs.
    Release,
}

impl Preset {
    /// Names accepted by `--preset` and the file's `preset` key.
    pub const NAMES: &[&str] = &["default", "release"];

    /// Parses a preset name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Self::Default),
            "release" => Some(Self::Release),
            _ => None,
        }
    }

    /// Returns the name of the preset.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Release => "release",
        }
    }

    /// Returns the environment variables the preset sets and their values.
    ///
    /// NOTE: the fault checks draw one fault schedule each and take no count, so the preset
    /// raises only crud.properties' cases.
    pub fn variables(self) -> Vec<(&'static str, String)> {
        match self {
            Self::Default => Vec::new(),
            Self::Release => vec![(
                crud_properties::CASES_VAR,
                RELEASE_PROPERTY_CASES.to_string(),
            )],
        }
    }

    /// Returns whether the preset runs every check, whatever the file's `checks` table contains.
    pub fn selects_every_check(self) -> bool {
        self == Self::Release
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses `--preset`.
pub fn parse_flag(name: &str) -> Result<Preset, String> {
    Preset::parse(name).ok_or_else(|| {
        format!(
            "unknown preset `{name}`; valid presets: {}",
            Preset::NAMES.join(", ")
        )
    })
}
