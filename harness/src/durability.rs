//! Durability of a run's Postgres server: the durable defaults that crash and restart checks
//! rely on, or test-only settings that skip syncing to disk where durability is not under test.

/// Disk-write settings of a run's Postgres server, fixed when its container is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The server's defaults: fsync, synchronous_commit and full_page_writes on, so that an
    /// acknowledged commit survives a crash of the server. The restart, chaos and rotation
    /// checks need this.
    #[default]
    Durable,
    /// fsync, synchronous_commit and full_page_writes off. Commits and `CREATE DATABASE` skip
    /// their waits for the disk, but a crash of the server can lose acknowledged commits, and a
    /// crash of the host can corrupt the cluster. Only for checks that never crash or restart
    /// Postgres to verify what survives.
    TestOnly,
}

/// Settings that differ between the two kinds, in `SHOW` order.
pub const SETTINGS: [&str; 3] = ["fsync", "synchronous_commit", "full_page_writes"];

impl Durability {
    /// Returns the value that `SHOW <setting>` returns under this durability, for each of
    /// [`SETTINGS`].
    pub fn expected_value(self) -> &'static str {
        match self {
            Durability::Durable => "on",
            Durability::TestOnly => "off",
        }
    }

    /// Returns the postgres command-line options (`-c name=value`) that set this durability.
    /// Durable adds none, so the image's configuration applies unchanged.
    pub fn server_args(self) -> Vec<String> {
        match self {
            Durability::Durable => Vec::new(),
            Durability::TestOnly => SETTINGS
                .iter()
                .flat_map(|setting| ["-c".to_owned(), format!("{setting}=off")])
                .collect(),
        }
    }

    /// Returns the name used in logs and benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Durable => "durable",
            Durability::TestOnly => "test-only",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_adds_no_server_args() {
        assert_eq!(Durability::Durable.server_args(), Vec::<String>::new());
    }

    #[test]
    fn test_only_turns_every_setting_off() {
        let args = Durability::TestOnly.server_args();
        assert_eq!(
            args,
            [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off"
            ],
            "test-only durability should turn fsync, synchronous_commit and full_page_writes off"
        );
    }

    #[test]
    fn default_is_durable() {
        assert_eq!(Durability::default(), Durability::Durable);
    }
}
