//! Resetting a database between property-test cases: every application table emptied and
//! every identity restarted, while the app keeps running and keeps its connections.
//!
//! The reset runs as lv_migrator, which owns the tables and so may TRUNCATE them. The app role
//! never gets TRUNCATE. The table list is read from the catalog once, so a new migration's
//! tables are reset without a code change.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::deployment::Deployment;
use crate::error::{Error, Result};

/// Deadline for a reset statement to get its locks. Between cases no request is in flight, so
/// the locks are free at once. A reset that waits this long is blocked by a stray session.
const LOCK_TIMEOUT: &str = "5s";

/// Method a reset uses to empty the tables. Every strategy leaves the same state: no rows and
/// every identity back at its start. They differ in statements, round trips and commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetStrategy {
    /// One `TRUNCATE t1, t2, ... RESTART IDENTITY CASCADE`: one statement and one commit.
    TruncateAll,
    /// One `TRUNCATE t RESTART IDENTITY CASCADE` per table, each its own commit.
    TruncateEach,
    /// `DELETE FROM` each table (children first) and `setval` on each identity sequence, in
    /// one transaction sent as one round trip.
    DeleteAll,
    /// The statements of [`ResetStrategy::DeleteAll`], each its own round trip and commit.
    DeleteEach,
}

impl ResetStrategy {
    /// Every strategy, in the order the benchmark reports them.
    pub const ALL: [ResetStrategy; 4] = [
        ResetStrategy::TruncateAll,
        ResetStrategy::TruncateEach,
        ResetStrategy::DeleteAll,
        ResetStrategy::DeleteEach,
    ];

    /// Returns the strategy's name as the benchmark and `FromStr` spell it.
    pub fn name(self) -> &'static str {
        match self {
            ResetStrategy::TruncateAll => "truncate-all",
            ResetStrategy::TruncateEach => "truncate-each",
            ResetStrategy::DeleteAll => "delete-all",
            ResetStrategy::DeleteEach => "delete-each",
        }
    }
}

impl fmt::Display for ResetStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ResetStrategy {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown reset strategy {text:?}; valid: {}",
                    names.join(", ")
                )
            })
    }
}

/// An open lv_migrator session on one database, ready to reset its tables.
pub struct TableReset {
    connection: PgConnection,
    database: String,
    strategy: ResetStrategy,
    /// SQL that one reset sends, one element per round trip.
    round_trips: Vec<String>,
}

impl TableReset {
    /// Connects to `database` as lv_migrator and prepares the statements of `strategy` for
    /// every table in schema `public` except sqlx's `_sqlx_migrations`.
    pub async fn connect(
        deployment: &Deployment,
        database: &str,
        strategy: ResetStrategy,
    ) -> Result<Self> {
        let options = deployment
            .connect_options_to(&deployment.migrator, database)
            .options([("lock_timeout", LOCK_TIMEOUT)])
            .disable_statement_logging();
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|source| Error::TemplateDatabase {
                step: format!("connecting to {database} as lv_migrator for resets"),
                source,
            })?;

        let tables = tables_children_first(&mut connection, database).await?;
        let sequences = identity_sequences(&mut connection, database).await?;
        let round_trips = plan(strategy, &tables, &sequences);
        tracing::debug!(%database, %strategy, ?round_trips, "table reset prepared");

        Ok(Self {
            connection,
            database: database.to_owned(),
            strategy,
            round_trips,
        })
    }

    /// Returns the SQL that one reset sends, one element per round trip.
    pub fn round_trips(&self) -> &[String] {
        &self.round_trips
    }

    /// Returns the strategy.
    pub fn strategy(&self) -> ResetStrategy {
        self.strategy
    }

    /// Empties every table and restarts every identity; returns the time it took.
    pub async fn reset(&mut self) -> Result<Duration> {
        let started = Instant::now();
        for sql in &self.round_trips {
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut self.connection)
                .await
                .map_err(|source| Error::TemplateDatabase {
                    step: format!("resetting {} with `{sql}`", self.database),
                    source,
                })?;
        }
        Ok(started.elapsed())
    }

    /// Closes the session.
    pub async fn close(self) {
        if let Err(error) = self.connection.close().await {
            tracing::debug!(%error, "closing the reset connection failed");
        }
    }
}

/// Builds the round trips of `strategy`. `tables` must list children before their parents.
fn plan(strategy: ResetStrategy, tables: &[String], sequences: &[String]) -> Vec<String> {
    let quoted: Vec<String> = tables.iter().map(|table| quote(table)).collect();
    let deletes = || -> Vec<String> {
        let mut statements: Vec<String> = quoted
            .iter()
            .map(|table| format!("DELETE FROM {table}"))
            .collect();
        statements.extend(
            sequences
                .iter()
                .map(|sequence| format!("SELECT setval('{}', 1, false)", quote(sequence))),
        );
        statements
    };

    match strategy {
        ResetStrategy::TruncateAll => vec![format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            quoted.join(", ")
        )],
        ResetStrategy::TruncateEach => quoted
            .iter()
            .map(|table| format!("TRUNCATE {table} RESTART IDENTITY CASCADE"))
            .collect(),
        ResetStrategy::DeleteAll => vec![format!("BEGIN; {}; COMMIT", deletes().join("; "))],
        ResetStrategy::DeleteEach => deletes(),
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Lists the tables of schema `public`, except `_sqlx_migrations`, with every table that has a
/// foreign key before the table it references, so that DELETEs in this order never violate a
/// RESTRICT foreign key.
async fn tables_children_first(
    connection: &mut PgConnection,
    database: &str,
) -> Result<Vec<String>> {
    let catalog_error = |source| Error::TemplateDatabase {
        step: format!("listing the tables of {database}"),
        source,
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations'
         ORDER BY c.relname",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(catalog_error)?;
    let references: Vec<(String, String)> = sqlx::query_as(
        "SELECT child.relname::text, parent.relname::text FROM pg_constraint k
         JOIN pg_class child ON child.oid = k.conrelid
         JOIN pg_class parent ON parent.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = child.relnamespace
         WHERE k.contype = 'f' AND n.nspname = 'public' AND child.oid <> parent.oid",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(catalog_error)?;

    Ok(order_children_first(tables, &references))
}

/// Orders `tables` so that each child comes before its parents. A cycle of foreign keys cannot
/// be ordered; its tables keep their alphabetical order at the end (only TRUNCATE handles them).
fn order_children_first(
    mut remaining: Vec<String>,
    references: &[(String, String)],
) -> Vec<String> {
    let mut ordered = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        // A table is next when no remaining table references it.
        let next = remaining.iter().position(|table| {
            !references
                .iter()
                .any(|(child, parent)| parent == table && remaining.contains(child))
        });
        match next {
            Some(index) => ordered.push(remaining.remove(index)),
            None => {
                ordered.append(&mut remaining);
            }
        }
    }
    ordered
}

/// Lists the sequences of schema `public` that belong to a column (identity or serial).
async fn identity_sequences(connection: &mut PgConnection, database: &str) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT s.relname::text FROM pg_class s
         JOIN pg_namespace n ON n.oid = s.relnamespace
         JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
         WHERE s.relkind = 'S' AND n.nspname = 'public'
         ORDER BY s.relname",
    )
    .fetch_all(connection)
    .await
    .map_err(|source| Error::TemplateDatabase {
        step: format!("listing the identity sequences of {database}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn children_come_before_parents() {
        let tables = names(&["audit_log", "localizations", "users", "videos"]);
        let references = [
            ("videos".to_owned(), "users".to_owned()),
            ("localizations".to_owned(), "videos".to_owned()),
        ];

        let ordered = order_children_first(tables, &references);

        assert_eq!(
            ordered,
            names(&["audit_log", "localizations", "videos", "users"])
        );
    }

    #[test]
    fn cycle_keeps_remaining_tables() {
        let tables = names(&["a", "b"]);
        let references = [
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "a".to_owned()),
        ];

        let ordered = order_children_first(tables, &references);

        assert_eq!(ordered, names(&["a", "b"]));
    }

    #[test]
    fn truncate_all_is_one_statement() {
        let plan = plan(
            ResetStrategy::TruncateAll,
            &names(&["localizations", "videos"]),
            &names(&["audit_log_id_seq"]),
        );

        assert_eq!(
            plan,
            ["TRUNCATE \"localizations\", \"videos\" RESTART IDENTITY CASCADE"]
        );
    }

    #[test]
    fn delete_all_restarts_sequences_in_one_round_trip() {
        let plan = plan(
            ResetStrategy::DeleteAll,
            &names(&["localizations", "videos"]),
            &names(&["audit_log_id_seq"]),
        );

        assert_eq!(
            plan,
            [
                "BEGIN; DELETE FROM \"localizations\"; DELETE FROM \"videos\"; \
                 SELECT setval('\"audit_log_id_seq\"', 1, false); COMMIT"
            ]
        );
    }

    #[test]
    fn delete_each_sends_one_statement_per_round_trip() {
        let plan = plan(
            ResetStrategy::DeleteEach,
            &names(&["videos"]),
            &names(&["audit_log_id_seq"]),
        );

        assert_eq!(plan.len(), 2);
    }

    #[test]
    fn strategy_names_parse() {
        for strategy in ResetStrategy::ALL {
            assert_eq!(strategy.name().parse::<ResetStrategy>(), Ok(strategy));
        }
        assert!("vacuum".parse::<ResetStrategy>().is_err());
    }
}
