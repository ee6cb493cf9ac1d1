//! The database interface: the only module that uses sqlx. One file per
//! resource; every change writes its audit entry in the same transaction.

mod audit;
mod error;
mod localizations;
mod migrations;
mod pool;
mod users;
mod videos;

pub use error::{DbError, DbErrorKind};
pub use migrations::{AppliedMigration, MigrationTable, embedded_migrations};
pub use pool::Database;
