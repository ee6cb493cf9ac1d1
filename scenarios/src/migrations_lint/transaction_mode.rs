//! The transaction rules of `migrations.lint`, derived from the way sqlx 0.9 runs a migration.
//!
//! sqlx 0.9.1 runs a file in a transaction unless the file starts with `-- no-transaction`
//! (`str::starts_with`, so a blank line before the directive turns it off). Either way it sends
//! the whole file as one simple query. Postgres 15 runs the statements of a query that contains
//! more than one statement in one implicit transaction block, so a statement that cannot run
//! inside a transaction block, such as `CREATE INDEX CONCURRENTLY`, works only alone in a
//! `-- no-transaction` file. Checked with psql against the project's Postgres 15.20 image:
//! `SET lock_timeout = '1s'; CREATE INDEX CONCURRENTLY ...` sent as one query fails with
//! "cannot run inside a transaction block". The `migrations.stepwise` self-test on the fixture
//! `migrations-concurrent-index-with-set` shows the same failure through sqlx.
//!
//! squawk-linter 2.68.0 does not model this. Its `ban-concurrent-index-creation-in-transaction`
//! ignores a file of one statement, and its `require-lock-timeout` and
//! `require-statement-timeout` ask for `SET` statements before a concurrent index build, which
//! would make that build fail. This module adds two rules of its own and waives the two timeout
//! rules where their fix cannot work.
//!
//! NOTE: a Prisma Migrate folder is linted with the same sqlx reading of the first line. The
//! directive is sqlx's, and how Prisma Migrate runs such a file is not checked here.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{Parse, SourceFile};

use super::LintViolation;

/// The first line that makes sqlx 0.9 run a migration outside a transaction.
pub const NO_TRANSACTION_DIRECTIVE: &str = "-- no-transaction";

/// Rule for a statement that cannot run in a transaction block, in a file that sqlx runs in
/// one.
pub const RULE_NO_TRANSACTION_REQUIRED: &str = "sqlx-no-transaction-required";

/// Rule for a statement that cannot run in a transaction block, in a `-- no-transaction` file
/// that holds other statements too.
pub const RULE_NO_TRANSACTION_ALONE: &str = "sqlx-no-transaction-statement-alone";

/// Returns whether `rule` is one of this module's rules. A violation of them makes the migration
/// fail to apply, so `lint-allow.toml` cannot waive them.
pub fn is_transaction_rule(rule: &str) -> bool {
    rule == RULE_NO_TRANSACTION_REQUIRED || rule == RULE_NO_TRANSACTION_ALONE
}

/// squawk rules whose fix, a `SET` before the statement, makes a lone statement of a
/// `-- no-transaction` file fail.
const WAIVED_TIMEOUT_RULES: [&str; 2] = ["require-lock-timeout", "require-statement-timeout"];

/// squawk's rule for `CREATE INDEX CONCURRENTLY` in a transaction, which
/// [`RULE_NO_TRANSACTION_REQUIRED`] reports with the sqlx-specific fix.
const SQUAWK_CONCURRENT_IN_TRANSACTION: &str = "ban-concurrent-index-creation-in-transaction";

/// Returns whether sqlx 0.9.1 runs `sql` in a transaction, with the same test as sqlx.
pub fn runs_in_transaction(sql: &str) -> bool {
    !sql.starts_with(NO_TRANSACTION_DIRECTIVE)
}

/// Applies the transaction rules to one file: adds a violation per statement that cannot run
/// where sqlx runs it, and removes the squawk violations that those rules replace or whose fix
/// cannot work in this file.
pub fn apply_transaction_rules(
    file_name: &str,
    sql: &str,
    parse: &Parse<SourceFile>,
    violations: &mut Vec<LintViolation>,
) {
    let statements: Vec<ast::Stmt> = parse.tree().stmts().collect();
    let outside_only: Vec<(&ast::Stmt, &'static str)> = statements
        .iter()
        .filter_map(|statement| outside_transaction_only(statement).map(|name| (statement, name)))
        .collect();
    if outside_only.is_empty() {
        return;
    }

    if runs_in_transaction(sql) {
        violations.retain(|violation| violation.rule != SQUAWK_CONCURRENT_IN_TRANSACTION);
        for (statement, name) in &outside_only {
            violations.push(LintViolation {
                file_name: file_name.to_owned(),
                rule: RULE_NO_TRANSACTION_REQUIRED.to_owned(),
                line: line_of(sql, statement),
                message: format!(
                    "{name} cannot run inside a transaction block, and sqlx runs this file in one \
                     because it does not start with `{NO_TRANSACTION_DIRECTIVE}`. Move the \
                     statement to a file of its own whose first line is \
                     `{NO_TRANSACTION_DIRECTIVE}`."
                ),
            });
        }
        return;
    }

    if statements.len() == 1 {
        // The lone statement cannot be preceded by `SET` in this file, so the timeouts come from
        // the migrator role's settings or the connection.
        violations.retain(|violation| !WAIVED_TIMEOUT_RULES.contains(&violation.rule.as_str()));
        return;
    }
    for (statement, name) in &outside_only {
        violations.push(LintViolation {
            file_name: file_name.to_owned(),
            rule: RULE_NO_TRANSACTION_ALONE.to_owned(),
            line: line_of(sql, statement),
            message: format!(
                "{name} fails in this file: sqlx sends a `{NO_TRANSACTION_DIRECTIVE}` file as \
                 one query, and Postgres runs a query of {} statements in one implicit \
                 transaction block. Keep only this statement in the file and move the others, \
                 `SET lock_timeout` included, to other migrations.",
                statements.len()
            ),
        });
    }
}

/// Returns the name of the statement when Postgres 15 rejects it inside a transaction block
/// (it calls `PreventInTransactionBlock`), or `None`.
fn outside_transaction_only(statement: &ast::Stmt) -> Option<&'static str> {
    match statement {
        ast::Stmt::CreateIndex(index) if index.concurrently_token().is_some() => {
            Some("CREATE INDEX CONCURRENTLY")
        }
        ast::Stmt::DropIndex(index) if index.concurrently_token().is_some() => {
            Some("DROP INDEX CONCURRENTLY")
        }
        ast::Stmt::Reindex(reindex) if reindex.is_concurrently() => Some("REINDEX CONCURRENTLY"),
        ast::Stmt::Vacuum(_) => Some("VACUUM"),
        ast::Stmt::CreateDatabase(_) => Some("CREATE DATABASE"),
        ast::Stmt::DropDatabase(_) => Some("DROP DATABASE"),
        ast::Stmt::CreateTablespace(_) => Some("CREATE TABLESPACE"),
        ast::Stmt::DropTablespace(_) => Some("DROP TABLESPACE"),
        ast::Stmt::AlterSystem(_) => Some("ALTER SYSTEM"),
        _ => None,
    }
}

fn line_of(sql: &str, statement: &ast::Stmt) -> usize {
    let offset = usize::from(statement.syntax().text_range().start()).min(sql.len());
    sql[..offset].matches('\n').count() + 1
}
