//! The `--only` option of `harness validate`: which checks run.

use scenarios::{
    access_isolation, access_least_privilege, crud_properties, crud_smoke, errors_sanitized,
    leaks_credentials, leaks_password_hash, migrations_lint, migrations_replay,
    migrations_roundtrip, migrations_stepwise, migrations_tamper, rotation,
};

/// Selection of the checks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Whether `migrations.replay` runs.
    pub replay: bool,
    /// Whether `migrations.stepwise` runs.
    pub stepwise: bool,
    /// Whether `migrations.tamper` runs.
    pub tamper: bool,
    /// Whether `migrations.lint` runs.
    pub lint: bool,
    /// Whether `migrations.roundtrip` runs.
    pub roundtrip: bool,
    /// Whether `crud.smoke` runs.
    pub crud: bool,
    /// Whether `crud.properties` runs.
    pub properties: bool,
    /// Whether `errors.sanitized` runs.
    pub errors: bool,
    /// Whether `leaks.password_hash` runs.
    pub password_hash: bool,
    /// Whether `leaks.credentials` runs.
    pub credentials: bool,
    /// Whether `access.least_privilege` runs.
    pub least_privilege: bool,
    /// Whether `access.isolation` runs.
    pub isolation: bool,
    /// Whether `rotation.update_env` runs.
    pub update_env: bool,
    /// Whether `rotation.stale_env` runs.
    pub stale_env: bool,
    /// Whether `rotation.alternating_users` runs.
    pub alternating_users: bool,
    /// Whether `rotation.expiry` runs.
    pub expiry: bool,
    /// Whether each of [`scenarios::FAULT_CHECKS`] runs, by index.
    pub fault_checks: [bool; scenarios::FAULT_CHECKS.len()],
}

impl Selection {
    /// Parses the values of `--only`, already split at commas. No values (no `--only`) selects
    /// every check. An empty name, as in `--only ''` or `--only a,,b`, and an unknown name are
    /// usage errors that list the valid names.
    pub fn parse(only: &[String]) -> Result<Self, String> {
        if only.is_empty() {
            return Ok(Self {
                replay: true,
                stepwise: true,
                tamper: true,
                lint: true,
                roundtrip: true,
                crud: true,
                properties: true,
                errors: true,
                password_hash: true,
                credentials: true,
                least_privilege: true,
                isolation: true,
                update_env: true,
                stale_env: true,
                alternating_users: true,
                expiry: true,
                fault_checks: [true; scenarios::FAULT_CHECKS.len()],
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
            stepwise: names.contains(&migrations_stepwise::NAME),
            tamper: names.contains(&migrations_tamper::NAME),
            lint: names.contains(&migrations_lint::NAME),
            roundtrip: names.contains(&migrations_roundtrip::NAME),
            crud: names.contains(&crud_smoke::NAME),
            properties: names.contains(&crud_properties::NAME),
            errors: names.contains(&errors_sanitized::NAME),
            password_hash: names.contains(&leaks_password_hash::NAME),
            credentials: names.contains(&leaks_credentials::NAME),
            least_privilege: names.contains(&access_least_privilege::NAME),
            isolation: names.contains(&access_isolation::NAME),
            update_env: names.contains(&rotation::update_env::NAME),
            stale_env: names.contains(&rotation::stale_env::NAME),
            alternating_users: names.contains(&rotation::alternating_users::NAME),
            expiry: names.contains(&rotation::expiry::NAME),
            fault_checks: scenarios::FAULT_CHECKS.map(|name| names.contains(&name)),
        })
    }

    /// Returns whether a selected check needs the app image.
    pub fn needs_app(&self) -> bool {
        self.crud
            || self.properties
            || self.isolation
            || self.needs_run_app()
            || self.update_env
            || self.stale_env
            || self.alternating_users
            || self.expiry
            || self.fault_checks.contains(&true)
    }

    /// Returns whether a selected check uses the main lane's app container. The other lanes
    /// start their own, and crud.properties starts app containers of its own.
    pub fn needs_run_app(&self) -> bool {
        self.crud || self.errors || self.password_hash || self.credentials
    }

    /// Returns whether the check `name` is selected. An unknown name is not.
    pub fn contains(&self, name: &str) -> bool {
        if let Some(index) = scenarios::FAULT_CHECKS
            .iter()
            .position(|check| *check == name)
        {
            return self.fault_checks[index];
        }
        match name {
            migrations_replay::NAME => self.replay,
            migrations_stepwise::NAME => self.stepwise,
            migrations_tamper::NAME => self.tamper,
            migrations_lint::NAME => self.lint,
            migrations_roundtrip::NAME => self.roundtrip,
            crud_smoke::NAME => self.crud,
            crud_properties::NAME => self.properties,
            errors_sanitized::NAME => self.errors,
            leaks_password_hash::NAME => self.password_hash,
            leaks_credentials::NAME => self.credentials,
            access_least_privilege::NAME => self.least_privilege,
            access_isolation::NAME => self.isolation,
            rotation::update_env::NAME => self.update_env,
            rotation::stale_env::NAME => self.stale_env,
            rotation::alternating_users::NAME => self.alternating_users,
            rotation::expiry::NAME => self.expiry,
            _ => false,
        }
    }

    /// Returns the selected checks among `checks`, in their order.
    pub fn selected_of(&self, checks: &[&'static str]) -> Vec<&'static str> {
        checks
            .iter()
            .copied()
            .filter(|name| self.contains(name))
            .collect()
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
        stepwise: true,
        tamper: true,
        lint: true,
        roundtrip: true,
        crud: true,
        properties: true,
        errors: true,
        password_hash: true,
        credentials: true,
        least_privilege: true,
        isolation: true,
        update_env: true,
        stale_env: true,
        alternating_users: true,
        expiry: true,
        fault_checks: [true; scenarios::FAULT_CHECKS.len()],
    };

    const NONE: Selection = Selection {
        replay: false,
        stepwise: false,
        tamper: false,
        lint: false,
        roundtrip: false,
        crud: false,
        properties: false,
        errors: false,
        password_hash: false,
        credentials: false,
        least_privilege: false,
        isolation: false,
        update_env: false,
        stale_env: false,
        alternating_users: false,
        expiry: false,
        fault_checks: [false; scenarios::FAULT_CHECKS.len()],
    };

    const REPLAY_AND_SMOKE: Selection = Selection {
        replay: true,
        crud: true,
        ..NONE
    };

    #[test]
    fn no_option_selects_every_check() {
        assert_eq!(parse(&[]), Ok(ALL));
    }

    #[test]
    fn names_select_their_checks() {
        let crud_only = Selection { crud: true, ..NONE };
        let replay_only = Selection {
            replay: true,
            ..NONE
        };
        let leaks_only = Selection {
            password_hash: true,
            credentials: true,
            ..NONE
        };
        let cases: &[(&[&str], Selection)] = &[
            (&["crud.smoke"], crud_only),
            (&[" crud.smoke "], crud_only),
            (&["migrations.replay"], replay_only),
            (&["crud.smoke", "migrations.replay"], REPLAY_AND_SMOKE),
            (&["leaks.password_hash", "leaks.credentials"], leaks_only),
            (
                &["errors.sanitized"],
                Selection {
                    errors: true,
                    ..NONE
                },
            ),
            (
                &[
                    "crud.smoke",
                    "migrations.replay",
                    "migrations.stepwise",
                    "migrations.tamper",
                    "migrations.lint",
                    "migrations.roundtrip",
                    "crud.properties",
                    "errors.sanitized",
                    "leaks.password_hash",
                    "leaks.credentials",
                    "access.least_privilege",
                    "access.isolation",
                    "rotation.update_env",
                    "rotation.stale_env",
                    "rotation.alternating_users",
                    "rotation.expiry",
                    "restarts.app_graceful",
                    "restarts.app_crash",
                    "restarts.postgres_fast",
                    "chaos.postgres_crash",
                    "chaos.partition",
                    "chaos.pause",
                    "chaos.latency",
                ],
                ALL,
            ),
            (
                &["chaos.pause", "restarts.app_crash"],
                Selection {
                    fault_checks: [false, true, false, false, false, true, false],
                    ..NONE
                },
            ),
            (
                &["migrations.tamper", "migrations.lint"],
                Selection {
                    tamper: true,
                    lint: true,
                    ..NONE
                },
            ),
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
            error.contains("valid names: migrations.replay, migrations.stepwise"),
            "{error}"
        );
    }

    #[test]
    fn contains_matches_parse() {
        for name in scenarios::CHECKS {
            let selection = parse(&[name]).expect("a check name should parse");
            for other in scenarios::CHECKS {
                assert_eq!(
                    selection.contains(other),
                    other == name,
                    "--only {name}: contains({other})"
                );
            }
        }
    }

    #[test]
    fn selected_of_keeps_order() {
        let selection = parse(&["chaos.pause", "restarts.app_crash"]).expect("names should parse");

        let selected = selection.selected_of(&scenarios::FAULT_CHECKS);

        assert_eq!(selected, ["restarts.app_crash", "chaos.pause"]);
    }
}
