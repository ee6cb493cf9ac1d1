//! The `--only` option of `harness validate`: which checks run.

use scenarios::{crud_properties, crud_smoke, migrations_replay};

/// Selection of the checks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Whether `migrations.replay` runs.
    pub replay: bool,
    /// Whether `crud.smoke` runs.
    pub crud: bool,
    /// Whether `crud.properties` runs.
    pub properties: bool,
}

impl Selection {
    /// Parses the values of `--only`, already split at commas. No values (no `--only`) selects
    /// every check. An empty name, as in `--only ''` or `--only a,,b`, and an unknown name are
    /// usage errors that list the valid names.
    pub fn parse(only: &[String]) -> Result<Self, String> {
        if only.is_empty() {
            return Ok(Self {
                replay: true,
                crud: true,
                properties: true,
            });
        }
        let valid = scenarios::CHECKS.join(", ");

        let names: Vec<&str> = only.iter().map(|name| name.trim()).collect();
        if names.iter().any(|name| name.is_empty()) {
            return Err(format!(
                "--only {:?} contains an empty check name; pass one or more names separated by \
                 commas, such as --only {}, or leave out --only to run every check ({valid})",
                only.join(","),
                scenarios::CHECKS.join(",")
            ));
        }

        let unknown: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !scenarios::CHECKS.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown check name(s) in --only: {}; valid names: {valid}",
                unknown.join(", ")
            ));
        }
        Ok(Self {
            replay: names.contains(&migrations_replay::NAME),
            crud: names.contains(&crud_smoke::NAME),
            properties: names.contains(&crud_properties::NAME),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Selection, String> {
        let values: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
        Selection::parse(&values)
    }

    const ALL: Selection = Selection {
        replay: true,
        crud: true,
        properties: true,
    };

    const REPLAY_AND_SMOKE: Selection = Selection {
        replay: true,
        crud: true,
        properties: false,
    };

    #[test]
    fn no_option_selects_every_check() {
        assert_eq!(parse(&[]), Ok(ALL));
    }

    #[test]
    fn names_select_their_checks() {
        let crud_only = Selection {
            replay: false,
            crud: true,
            properties: false,
        };
        let replay_only = Selection {
            replay: true,
            crud: false,
            properties: false,
        };
        let cases: &[(&[&str], Selection)] = &[
            (&["crud.smoke"], crud_only),
            (&[" crud.smoke "], crud_only),
            (&["migrations.replay"], replay_only),
            (&["crud.smoke", "migrations.replay"], REPLAY_AND_SMOKE),
            (&["crud.smoke", "migrations.replay", "crud.properties"], ALL),
            (&["crud.smoke", "crud.smoke"], crud_only),
        ];
        for (values, expected) in cases {
            assert_eq!(parse(values), Ok(*expected), "--only {values:?}");
        }
    }

    #[test]
    fn empty_names_are_rejected() {
        // clap splits `--only ''` and `--only=` into [""], and `--only ,` into ["", ""].
        let cases: &[&[&str]] = &[&[""], &["", ""], &[" "], &["crud.smoke", ""]];
        for values in cases {
            let error = parse(values).expect_err(&format!("--only {values:?} should be rejected"));
            assert!(error.contains("empty check name"), "{values:?}: {error}");
            assert!(error.contains("crud.smoke"), "{values:?}: {error}");
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let error = parse(&["crud.smok"]).expect_err("an unknown name should be rejected");
        assert!(error.contains("crud.smok;"), "{error}");
        assert!(
            error.contains("valid names: migrations.replay, crud.smoke"),
            "{error}"
        );
    }
}
