//! Settings read from the environment at start.

use std::env::VarError;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use crate::secret::Secret;

/// Name the app reports to Postgres (`pg_stat_activity.application_name`).
const APPLICATION_NAME: &str = "localizevideos-app";

/// Everything the app reads from its environment, except `RUST_LOG`, which
/// `main` reads first to set up logging.
#[derive(Debug)]
pub struct Config {
    /// Socket address the HTTP server binds (`LV_LISTEN`).
    pub listen: SocketAddr,
    /// Connection target and login role of the database.
    pub database: DatabaseConfig,
    /// Pool and statement limits.
    pub pool: PoolConfig,
    /// Cost of argon2id password hashes.
    pub argon2: Argon2Config,
    /// Time that in-flight requests get to finish after SIGTERM or SIGINT.
    pub shutdown_grace: Duration,
}

/// Connection target: a whole URL or its parts.
#[derive(Debug)]
pub enum DatabaseConfig {
    /// `DATABASE_URL`, kept secret because it may contain the password.
    Url(Secret),
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER` and `DB_PASSWORD`.
    Parts {
        host: String,
        port: u16,
        name: String,
        user: String,
        password: Option<Secret>,
    },
}

/// Connection pool limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Maximum open connections (`LV_DB_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// Maximum wait for a connection, including opening one (`LV_DB_ACQUIRE_TIMEOUT_MS`).
    pub acquire_timeout: Duration,
    /// Postgres `statement_timeout`; zero turns it off (`LV_DB_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout: Duration,
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory cost in KiB (`LV_ARGON2_MEMORY_KIB`).
    pub memory_kib: u32,
    /// Number of passes (`LV_ARGON2_ITERATIONS`).
    pub iterations: u32,
    /// Degree of parallelism (`LV_ARGON2_PARALLELISM`).
    pub parallelism: u32,
}

/// A setting that is missing or invalid. Messages never contain a password or
/// a connection string.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{name} is not set; set DATABASE_URL, or all of DB_HOST, DB_NAME and DB_USER \
         (DB_PORT and DB_PASSWORD are optional)"
    )]
    MissingDatabaseSetting { name: &'static str },

    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },

    #[error(
        "DATABASE_URL is invalid: {reason}; \
         expected postgres://USER:PASSWORD@HOST:PORT/DATABASE (value not shown)"
    )]
    InvalidDatabaseUrl { reason: String },

    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: &'static str },
}

impl Config {
    /// Reads the settings through `var`, which behaves like [`std::env::var`].
    /// An empty value counts as unset.
    pub fn from_vars(var: impl Fn(&str) -> Result<String, VarError>) -> Result<Self, ConfigError> {
        let vars = Vars(&var);

        let listen = vars.parse("LV_LISTEN", "0.0.0.0:8080".parse().expect("valid default"))?;
        let database = DatabaseConfig::from_vars(&vars)?;

        let pool = PoolConfig {
            max_connections: vars.parse_in("LV_DB_MAX_CONNECTIONS", 10, 1..=10_000)?,
            acquire_timeout: vars.millis("LV_DB_ACQUIRE_TIMEOUT_MS", 5000, 1)?,
            statement_timeout: vars.millis("LV_DB_STATEMENT_TIMEOUT_MS", 5000, 0)?,
        };

        let argon2 = Argon2Config {
            memory_kib: vars.parse("LV_ARGON2_MEMORY_KIB", 19_456)?,
            iterations: vars.parse("LV_ARGON2_ITERATIONS", 2)?,
            parallelism: vars.parse("LV_ARGON2_PARALLELISM", 1)?,
        };
        if let Err(err) = argon2.params() {
            return Err(ConfigError::Invalid {
                name: "LV_ARGON2_MEMORY_KIB, LV_ARGON2_ITERATIONS, LV_ARGON2_PARALLELISM",
                value: format!(
                    "{}, {}, {}",
                    argon2.memory_kib, argon2.iterations, argon2.parallelism
                ),
                reason: format!(
                    "{err}; memory must be at least 8 KiB per lane and iterations at least 1"
                ),
            });
        }

        let shutdown_grace = vars.millis("LV_SHUTDOWN_GRACE_MS", 10_000, 0)?;

        Ok(Self {
            listen,
            database,
            pool,
            argon2,
            shutdown_grace,
        })
    }
}

impl DatabaseConfig {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        if let Some(url) = vars.get("DATABASE_URL")? {
            let url = Secret::new(url);
            parse_database_url(&url)?;
            return Ok(Self::Url(url));
        }

        let required = |name: &'static str| {
            vars.get(name)?
                .ok_or(ConfigError::MissingDatabaseSetting { name })
        };
        Ok(Self::Parts {
            host: required("DB_HOST")?,
            port: vars.parse_in("DB_PORT", 5432, 1..=u16::MAX)?,
            name: required("DB_NAME")?,
            user: required("DB_USER")?,
            password: vars.get("DB_PASSWORD")?.map(Secret::new),
        })
    }

    /// Builds the sqlx connect options, with the pool's statement timeout.
    ///
    /// NOTE: `PgConnectOptions` prints its password when Debug-formatted
    /// (sqlx 0.9), so the returned value is never formatted.
    pub fn connect_options(&self, pool: &PoolConfig) -> Result<PgConnectOptions, ConfigError> {
        let options = match self {
            Self::Url(url) => parse_database_url(url)?,
            Self::Parts {
                host,
                port,
                name,
                user,
                password,
            } => {
                let options = PgConnectOptions::new_without_pgpass()
                    .host(host)
                    .port(*port)
                    .database(name)
                    .username(user);
                match password {
                    Some(password) => options.password(password.expose()),
                    None => options,
                }
            }
        };

        let statement_timeout_ms = pool.statement_timeout.as_millis().to_string();
        Ok(options
            .application_name(APPLICATION_NAME)
            .options([("statement_timeout", statement_timeout_ms.as_str())]))
    }
}

impl Argon2Config {
    /// Converts to argon2 parameters, which checks the combination.
    pub fn params(&self) -> Result<argon2::Params, argon2::Error> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }
}

/// Parses `DATABASE_URL` without ever putting the URL into an error message.
fn parse_database_url(url: &Secret) -> Result<PgConnectOptions, ConfigError> {
    let value = url.expose();
    let scheme_ok = value.starts_with("postgres://") || value.starts_with("postgresql://");
    if !scheme_ok {
        return Err(ConfigError::InvalidDatabaseUrl {
            reason: "the scheme must be postgres:// or postgresql://".to_owned(),
        });
    }

    // sqlx 0.9.1 builds these messages from the url crate, from number
    // parsing and, for an unknown `sslmode`, from that value, so none of
    // them repeats the password.
    PgConnectOptions::from_str(value).map_err(|err| ConfigError::InvalidDatabaseUrl {
        reason: url_error_reason(&err),
    })
}

/// Renders a URL parse error once. sqlx 0.9.1 wraps the error of an invalid
/// parameter value (such as an unknown `sslmode`) in a second
/// `Configuration` error, whose message would repeat the
/// "error with configuration: " prefix.
fn url_error_reason(err: &sqlx::Error) -> String {
    if let sqlx::Error::Configuration(source) = err
        && let Some(inner) = source.downcast_ref::<sqlx::Error>()
    {
        return url_error_reason(inner);
    }
    err.to_string()
}

/// Typed access to the variables, with the variable's name in every error.
struct Vars<'a>(&'a dyn Fn(&str) -> Result<String, VarError>);

impl Vars<'_> {
    fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.0)(name) {
            Ok(value) if value.is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { name }),
        }
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let Some(value) = self.get(name)? else {
            return Ok(default);
        };
        value.parse().map_err(|err: T::Err| ConfigError::Invalid {
            name,
            reason: err.to_string(),
            value,
        })
    }

    fn parse_in<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
        T::Err: std::fmt::Display,
    {
        let value = self.parse(name, default)?;
        if range.contains(&value) {
            return Ok(value);
        }
        Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason: format!("must be between {} and {}", range.start(), range.end()),
        })
    }

    fn millis(&self, name: &'static str, default: u64, min: u64) -> Result<Duration, ConfigError> {
        // One day is far above any sensible timeout and keeps the value within
        // what Postgres accepts for statement_timeout (a 32-bit count of ms).
        const MAX_MS: u64 = 86_400_000;
        let value = self.parse_in(name, default, min..=MAX_MS)?;
        Ok(Duration::from_millis(value))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Config::from_vars(|name| map.get(name).cloned().ok_or(VarError::NotPresent))
    }

    const PARTS: [(&str, &str); 4] = [
        ("DB_HOST", "db"),
        ("DB_NAME", "localizevideos"),
        ("DB_USER", "lv_app"),
        ("DB_PASSWORD", "canary-password-1"),
    ];

    #[test]
    fn defaults_apply() {
        let config = config_from(&PARTS).expect("parts alone should be a complete config");

        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.pool.max_connections, 10);
        assert_eq!(config.pool.acquire_timeout, Duration::from_millis(5000));
        assert_eq!(config.pool.statement_timeout, Duration::from_millis(5000));
        assert_eq!(config.shutdown_grace, Duration::from_millis(10_000));
        assert_eq!(
            config.argon2,
            Argon2Config {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn parts_fill_database_config() {
        let config = config_from(&PARTS).expect("parts should parse");

        let DatabaseConfig::Parts {
            host,
            port,
            name,
            user,
            password,
        } = &config.database
        else {
            panic!("expected the DB_* parts, got a URL");
        };
        assert_eq!(host, "db");
        assert_eq!(*port, 5432);
        assert_eq!(name, "localizevideos");
        assert_eq!(user, "lv_app");
        assert_eq!(
            password.as_ref().map(Secret::expose),
            Some("canary-password-1")
        );
    }

    #[test]
    fn database_url_wins_over_parts() {
        let mut pairs = PARTS.to_vec();
        pairs.push((
            "DATABASE_URL",
            "postgres://lv_app:canary-password-2@127.0.0.1:5432/localizevideos",
        ));

        let config = config_from(&pairs).expect("URL should parse");

        assert!(matches!(config.database, DatabaseConfig::Url(_)));
    }

    #[test]
    fn missing_part_names_variable() {
        let err = config_from(&[("DB_HOST", "db"), ("DB_USER", "lv_app")])
            .expect_err("DB_NAME is missing");

        assert!(
            matches!(err, ConfigError::MissingDatabaseSetting { name: "DB_NAME" }),
            "unexpected error: {err}"
        );
    }

    #[test]
    fn empty_value_counts_as_unset() {
        let mut pairs = PARTS.to_vec();
        pairs.push(("LV_DB_MAX_CONNECTIONS", ""));

        let config = config_from(&pairs).expect("an empty value should fall back to the default");

        assert_eq!(config.pool.max_connections, 10);
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        let cases = [
            ("DB_PORT", "0"),
            ("DB_PORT", "70000"),
            ("LV_DB_MAX_CONNECTIONS", "0"),
            ("LV_DB_MAX_CONNECTIONS", "ten"),
            ("LV_DB_ACQUIRE_TIMEOUT_MS", "0"),
            ("LV_DB_STATEMENT_TIMEOUT_MS", "-1"),
            ("LV_SHUTDOWN_GRACE_MS", "86400001"),
            ("LV_ARGON2_ITERATIONS", "0"),
            ("LV_ARGON2_MEMORY_KIB", "4"),
            ("LV_LISTEN", "localhost"),
        ];
        for (name, value) in cases {
            let mut pairs = PARTS.to_vec();
            pairs.push((name, value));

            let result = config_from(&pairs);

            assert!(result.is_err(), "{name}={value} should be rejected");
        }
    }

    #[test]
    fn statement_timeout_zero_is_allowed() {
        let mut pairs = PARTS.to_vec();
        pairs.push(("LV_DB_STATEMENT_TIMEOUT_MS", "0"));

        let config = config_from(&pairs).expect("zero turns the statement timeout off");

        assert_eq!(config.pool.statement_timeout, Duration::ZERO);
    }

    #[test]
    fn invalid_url_error_hides_password() {
        let urls = [
            "mysql://lv_app:canary-password-3@db/localizevideos",
            "postgres://lv_app:canary-password-3@db:notaport/localizevideos",
        ];
        for url in urls {
            let err = config_from(&[("DATABASE_URL", url)]).expect_err("URL should be rejected");

            let message = err.to_string();
            assert!(
                !message.contains("canary-password-3"),
                "message leaks the password: {message}"
            );
        }
    }

    #[test]
    fn invalid_sslmode_error_has_one_prefix() {
        let url = "postgres://lv_app:canary-password-3@db/localizevideos?sslmode=sometimes";

        let err = config_from(&[("DATABASE_URL", url)]).expect_err("sslmode should be rejected");

        let message = err.to_string();
        assert_eq!(
            message.matches("error with configuration").count(),
            1,
            "message: {message}"
        );
        assert!(message.contains("\"sometimes\""), "message: {message}");
    }

    #[test]
    fn config_debug_hides_password() {
        let config = config_from(&PARTS).expect("parts should parse");

        let debug = format!("{config:?}");

        assert!(!debug.contains("canary-password-1"), "Debug leaks: {debug}");
        assert!(debug.contains("[redacted]"), "Debug output: {debug}");
    }
}
