//! Generated rows that are valid for the schema of the current migration version: every column
//! of every table gets a value, so that a later migration that drops or rewrites a column has
//! data to lose.
//!
//! Values come from the column's name where the LocalizeVideos schema constrains it (an email
//! with `@`, a BCP-47-shaped language tag, a status from its CHECK list), and otherwise from
//! its type. A single-column foreign key takes the first key of the referenced table, so tables
//! are filled parents first.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AssertSqlSafe, PgConnection};

use super::quote_identifier;

/// One column that an INSERT can set.
#[derive(Clone, Debug)]
struct Column {
    name: String,
    /// Output of `format_type`, such as `character varying(100)`, used as the cast.
    sql_type: String,
    /// Name of the base type (of the domain, for a domain), such as `int4` or `timestamptz`.
    base_type: String,
    /// `typtype` of the base type: `e` for an enum.
    base_kind: String,
    /// Whether the base type is an array.
    is_array: bool,
}

/// A table to fill and the parent it references per foreign key column.
#[derive(Clone, Debug, Default)]
struct Table {
    columns: Vec<Column>,
    /// Foreign key column to (referenced table, referenced column).
    references: BTreeMap<String, (String, String)>,
}

/// Failure to generate or insert rows.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    /// Reading the catalog or inserting failed.
    #[error("{step} failed: {source}")]
    Database {
        /// The statement or step.
        step: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A column whose type has no generator.
    #[error(
        "no value generator for column {table}.{column} of type {sql_type}; add one to \
         migrations_stepwise/rows.rs"
    )]
    UnsupportedType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The column's type.
        sql_type: String,
    },
    /// A foreign key of more than one column, which the generator does not follow.
    #[error(
        "table {table} has a foreign key of several columns ({constraint}), which the row \
         generator does not support"
    )]
    CompositeForeignKey {
        /// The table.
        table: String,
        /// The constraint's name.
        constraint: String,
    },
}

/// Inserts `rows_per_table` generated rows into every table of schema `public` except
/// `_sqlx_migrations`, and returns the number of rows inserted. `next_row` numbers the rows
/// across calls, so that every generated key and unique value differs.
pub async fn insert_generated_rows(
    connection: &mut PgConnection,
    rows_per_table: u32,
    next_row: &mut u64,
) -> Result<u64, RowsError> {
    let tables = read_tables(connection).await?;
    let mut inserted = 0;
    for table_name in parents_first(&tables) {
        let table = &tables[&table_name];
        for _ in 0..rows_per_table {
            *next_row += 1;
            let statement = insert_statement(&table_name, table, *next_row)?;
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut *connection)
                .await
                .map_err(|source| RowsError::Database {
                    step: format!("generated row {statement}"),
                    source,
                })?;
            inserted += 1;
        }
    }
    Ok(inserted)
}

async fn read_tables(connection: &mut PgConnection) -> Result<BTreeMap<String, Table>, RowsError> {
    let database = |step: &str| {
        let step = step.to_owned();
        move |source| RowsError::Database { step, source }
    };

    // Identity ALWAYS and generated columns cannot be set, so they are left out.
    let columns: Vec<(String, String, String, String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
                bt.typname::text, bt.typtype::text, bt.typcategory = 'A'
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname <> '_sqlx_migrations' AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attidentity <> 'a' AND a.attgenerated = ''
         ORDER BY c.relname, a.attnum",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the columns"))?;

    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, name, sql_type, base_type, base_kind, is_array) in columns {
        tables.entry(table).or_default().columns.push(Column {
            name,
            sql_type,
            base_type,
            base_kind,
            is_array,
        });
    }

    let foreign_keys: Vec<(String, String, i32, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, con.conname::text, cardinality(con.conkey),
                a.attname::text, rc.relname::text || '.' || ra.attname::text
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_class rc ON rc.oid = con.confrelid
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]
         WHERE n.nspname = 'public' AND con.contype = 'f'",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the foreign keys"))?;

    for (table, constraint, columns, column, referenced) in foreign_keys {
        if columns != 1 {
            return Err(RowsError::CompositeForeignKey { table, constraint });
        }
        let (referenced_table, referenced_column) = referenced
            .split_once('.')
            .map(|(t, c)| (t.to_owned(), c.to_owned()))
            .unwrap_or_default();
        if let Some(entry) = tables.get_mut(&table) {
            entry
                .references
                .insert(column, (referenced_table, referenced_column));
        }
    }
    Ok(tables)
}

/// Orders tables so that each comes after the tables it references. A table in a reference
/// cycle, or one referencing itself, comes after the others in name order.
fn parents_first(tables: &BTreeMap<String, Table>) -> Vec<String> {
    let mut ordered = Vec::new();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    loop {
        let ready: Vec<String> = tables
            .iter()
            .filter(|(name, _)| !placed.contains(*name))
            .filter(|(name, table)| {
                table
                    .references
                    .values()
                    .all(|(parent, _)| parent == *name || placed.contains(parent))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            placed.insert(name.clone());
            ordered.push(name);
        }
    }
    for name in tables.keys() {
        if !placed.contains(name) {
            ordered.push(name.clone());
        }
    }
    ordered
}

fn insert_statement(table_name: &str, table: &Table, row: u64) -> Result<String, RowsError> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for column in &table.columns {
        let value = match table.references.get(&column.name) {
            Some((parent, key)) => format!(
                "(SELECT {key} FROM {parent} ORDER BY {key} LIMIT 1)",
                key = quote_identifier(key),
                parent = quote_identifier(parent)
            ),
            None => column_value(table_name, column, row)?,
        };
        names.push(quote_identifier(&column.name));
        values.push(value);
    }
    Ok(format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_identifier(table_name),
        names.join(", "),
        values.join(", ")
    ))
}

/// Returns an SQL expression for `column` in generated row number `row`.
fn column_value(table: &str, column: &Column, row: u64) -> Result<String, RowsError> {
    if let Some(literal) = known_value(table, &column.name, row) {
        return Ok(format!("{}::{}", quote_literal(&literal), column.sql_type));
    }
    if column.is_array {
        return Ok(format!("'{{}}'::{}", column.sql_type));
    }
    if column.base_kind == "e" {
        return Ok(format!(
            "(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = {}::regtype \
             ORDER BY e.enumsortorder LIMIT 1)::{}",
            quote_literal(&column.sql_type),
            column.sql_type
        ));
    }
    let literal = match column.base_type.as_str() {
        "uuid" => format!("00000000-0000-4000-8000-{row:012}"),
        "text" | "varchar" | "bpchar" | "citext" => format!("stepwise {row}"),
        "int2" => (row % 30_000).to_string(),
        "int4" | "int8" | "numeric" | "float4" | "float8" => row.to_string(),
        "bool" => row.is_multiple_of(2).to_string(),
        "timestamptz" | "timestamp" => {
            return Ok(format!(
                "'2026-01-01 00:00:00+00'::{} + interval '{row} seconds'",
                column.sql_type
            ));
        }
        "date" => return Ok(format!("date '2026-01-01' + {}", row % 3_650)),
        "jsonb" | "json" => format!("{{\"stepwise_row\": {row}}}"),
        "bytea" => format!("\\x{row:016x}"),
        _ => {
            return Err(RowsError::UnsupportedType {
                table: table.to_owned(),
                column: column.name.clone(),
                sql_type: column.sql_type.clone(),
            });
        }
    };
    Ok(format!("{}::{}", quote_literal(&literal), column.sql_type))
}

/// Returns a value that the LocalizeVideos schema's CHECK constraints accept for columns that a
/// type-based value would violate.
fn known_value(table: &str, column: &str, row: u64) -> Option<String> {
    let value = match (table, column) {
        (_, "email") => format!("stepwise{row}@example.test"),
        (_, "display_name") => format!("Stepwise user {row}"),
        // Matches the `LIKE '$argon2id$%'` check without being a real password hash.
        (_, "password_hash") => format!("$argon2id$stepwise-not-a-hash-{row}"),
        (_, "title") => format!("Stepwise video {row}"),
        (_, "source_language" | "target_language") => format!("x-s{row}"),
        (_, "duration_seconds") => (row % 86_400).to_string(),
        ("videos", "status") => "draft".to_owned(),
        ("localizations", "status") => "pending".to_owned(),
        ("localizations", "kind") => ["subtitles", "dubbing"][(row % 2) as usize].to_owned(),
        ("audit_log", "actor") => format!("stepwise {row}"),
        ("audit_log", "action") => "create".to_owned(),
        ("audit_log", "entity_type") => "video".to_owned(),
        _ => return None,
    };
    Some(value)
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, sql_type: &str, base_type: &str) -> Column {
        Column {
            name: name.to_owned(),
            sql_type: sql_type.to_owned(),
            base_type: base_type.to_owned(),
            base_kind: "b".to_owned(),
            is_array: false,
        }
    }

    #[test]
    fn parents_come_first() {
        let mut tables = BTreeMap::new();
        let mut localizations = Table::default();
        localizations.references.insert(
            "video_id".to_owned(),
            ("videos".to_owned(), "id".to_owned()),
        );
        let mut videos = Table::default();
        videos
            .references
            .insert("owner_id".to_owned(), ("users".to_owned(), "id".to_owned()));
        tables.insert("localizations".to_owned(), localizations);
        tables.insert("videos".to_owned(), videos);
        tables.insert("users".to_owned(), Table::default());

        assert_eq!(parents_first(&tables), ["users", "videos", "localizations"]);
    }

    #[test]
    fn statement_sets_every_column() {
        let table = Table {
            columns: vec![
                column("id", "uuid", "uuid"),
                column("email", "text", "text"),
                column("created_at", "timestamp with time zone", "timestamptz"),
                column("changes", "jsonb", "jsonb"),
            ],
            references: BTreeMap::new(),
        };

        let statement = insert_statement("users", &table, 7).expect("types are supported");

        assert_eq!(
            statement,
            "INSERT INTO \"users\" (\"id\", \"email\", \"created_at\", \"changes\") VALUES \
             ('00000000-0000-4000-8000-000000000007'::uuid, \
             'stepwise7@example.test'::text, \
             '2026-01-01 00:00:00+00'::timestamp with time zone + interval '7 seconds', \
             '{\"stepwise_row\": 7}'::jsonb)"
        );
    }

    #[test]
    fn unsupported_type_names_column() {
        let table = Table {
            columns: vec![column("shape", "polygon", "polygon")],
            references: BTreeMap::new(),
        };

        let error = insert_statement("notes", &table, 1).expect_err("polygon has no generator");

        assert_eq!(
            error.to_string(),
            "no value generator for column notes.shape of type polygon; add one to \
             migrations_stepwise/rows.rs"
        );
    }
}
