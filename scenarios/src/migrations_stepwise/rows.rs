//! Generated rows that are valid for the schema of the current migration version: every column
//! of every table in every schema except the system ones gets a value, so that a later migration
//! that drops or rewrites a column has data to lose.
//!
//! A column constrained by `CHECK (column IN (...))` takes each allowed value that the catalog
//! lists, and an enum column takes each label of its type, so that a later migration that
//! deletes or rewrites the rows of any one value changes the fingerprint. Other values come from
//! the column's name where the LocalizeVideos schema constrains it (an email with `@`, a
//! BCP-47-shaped language tag), and otherwise from its type. Integer columns cycle through a
//! negative value, a value near the type's maximum, zero, a small positive value and a value near
//! the type's minimum. A table with a nullable column gets one more row with NULL in every
//! nullable column. So a migration that deletes the rows with NULLs or out-of-range numbers
//! changes the fingerprint. A row whose edge values or NULLs a constraint rejects is inserted
//! again with plain values. A single-column foreign key takes the first key of the
//! referenced table, so tables are filled parents first.
//!
//! NOTE: other types get one plain value each (text, numeric, float, dates, JSON, bytea, empty
//! arrays): no empty strings, NaN, infinities, non-empty arrays or non-ASCII text, so a migration
//! that deletes only such values is not caught.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AssertSqlSafe, PgConnection};

use super::allowed_values::parse_in_list;
use super::{USER_TABLES_SQL, qualified_name_sql, quote_identifier, table_name_sql};

/// Maximum number of rows per table and call that combine the allowed values of a table's IN
/// lists. A table with more combinations gets one row per value of its longest list instead,
/// so that every value still appears in some row.
const MAX_COMBINATIONS: usize = 64;

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
    /// Whether the column accepts NULL (no `NOT NULL`).
    nullable: bool,
}

/// The key column of a table that a foreign key references.
#[derive(Clone, Debug)]
struct Reference {
    /// The referenced table's name as in messages, such as `users` or `side.notes`.
    table: String,
    /// The referenced table's schema-qualified, quoted name for SQL.
    qualified_table: String,
    /// The referenced column.
    column: String,
}

/// Kind of values in a generated row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Values {
    /// Edge values for integers (see [`integer_value`]) and a value in every column.
    Edge,
    /// Edge values for integers and NULL in every nullable column.
    Nulls,
    /// Plain values, for a row whose edge values a constraint rejected.
    Plain,
}

/// A table to fill and the parent it references per foreign key column.
#[derive(Clone, Debug, Default)]
struct Table {
    /// The schema-qualified, quoted name for SQL, such as `"side"."notes"`.
    qualified_name: String,
    columns: Vec<Column>,
    /// Foreign key column to the key it references.
    references: BTreeMap<String, Reference>,
    /// Column to the values it may take, in order: the list of its `CHECK (column IN (...))`
    /// constraint, or else the labels of its enum type.
    allowed_values: BTreeMap<String, Vec<String>>,
    /// CHECK constraint name to the columns it references, for error messages.
    checks: BTreeMap<String, Vec<String>>,
    /// Name of a foreign key of several columns, which makes the table unfillable.
    composite_foreign_key: Option<String>,
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
    /// A generated row that a CHECK constraint rejected.
    #[error(
        "CHECK constraint {constraint} on column(s) {columns} rejected a generated row for \
         table {table}: the row generator could not satisfy it. Write the constraint as \
         `column IN (...)`, whose values the generator reads from the catalog, or add a value \
         for the column to `known_value` in migrations_stepwise/rows.rs (row: {statement})"
    )]
    CheckViolation {
        /// The table.
        table: String,
        /// The constraint's name.
        constraint: String,
        /// The columns the constraint references, comma-separated.
        columns: String,
        /// The INSERT statement that failed.
        statement: String,
    },
    /// A foreign key of more than one column, which the generator does not follow.
    #[error(
        "table {table} has a foreign key of several columns ({constraint}), which the row \
         generator does not support yet. Add support for it to migrations_stepwise/rows.rs"
    )]
    CompositeForeignKey {
        /// The table.
        table: String,
        /// The constraint's name.
        constraint: String,
    },
}

/// Rows inserted by one call of [`insert_generated_rows`].
#[derive(Debug, Default)]
pub struct GeneratedRows {
    /// Number of rows inserted.
    pub inserted: u64,
    /// Tables whose rows could not all be generated.
    pub failed_tables: Vec<FailedTable>,
}

/// A table whose generated rows could not all be inserted.
#[derive(Debug)]
pub struct FailedTable {
    /// The table.
    pub table: String,
    /// Rows inserted into it before the failure, which stay.
    pub inserted: u64,
    /// The reason.
    pub error: RowsError,
}

/// Inserts generated rows into every table outside the system schemas except `_sqlx_migrations`.
/// Each table gets at least `rows_per_table` rows, enough rows to cover the allowed values of its
/// IN-list and enum columns (see [`row_count`]), and one row with NULLs if it has a nullable
/// column. `next_row` numbers the rows across calls, so that every generated key and unique
/// value differs.
///
/// A table whose row cannot be built or inserted is listed in
/// [`GeneratedRows::failed_tables`] and the other tables still get rows. Each INSERT commits
/// on its own, so a rejected row does not undo the earlier ones. Only a failed catalog read
/// returns an error.
pub async fn insert_generated_rows(
    connection: &mut PgConnection,
    rows_per_table: u32,
    next_row: &mut u64,
) -> Result<GeneratedRows, RowsError> {
    let tables = read_tables(connection).await?;
    let mut generated = GeneratedRows::default();
    for table_name in parents_first(&tables) {
        let table = &tables[&table_name];
        match insert_table_rows(connection, &table_name, table, rows_per_table, next_row).await {
            Ok(inserted) => generated.inserted += inserted,
            Err((inserted, error)) => {
                generated.inserted += inserted;
                generated.failed_tables.push(FailedTable {
                    table: table_name.clone(),
                    inserted,
                    error,
                });
            }
        }
    }
    Ok(generated)
}

/// Inserts the generated rows of one table. On failure, returns the rows inserted before it
/// with the error.
async fn insert_table_rows(
    connection: &mut PgConnection,
    table_name: &str,
    table: &Table,
    rows_per_table: u32,
    next_row: &mut u64,
) -> Result<u64, (u64, RowsError)> {
    if let Some(constraint) = &table.composite_foreign_key {
        let error = RowsError::CompositeForeignKey {
            table: table_name.to_owned(),
            constraint: constraint.clone(),
        };
        return Err((0, error));
    }

    let mut rows: Vec<Values> = vec![Values::Edge; row_count(table, rows_per_table)];
    if table.columns.iter().any(|column| column.nullable) {
        rows.push(Values::Nulls);
    }

    let mut inserted = 0;
    for (index, values) in rows.into_iter().enumerate() {
        *next_row += 1;
        insert_row(connection, table_name, table, *next_row, index, values)
            .await
            .map_err(|error| (inserted, error))?;
        inserted += 1;
    }
    Ok(inserted)
}

/// Inserts one generated row. When a CHECK (SQLSTATE 23514), UNIQUE (23505) or domain NOT NULL
/// (23502) constraint rejects its edge values or NULLs, inserts the row again with plain values, because the
/// constraint rules those values out and the table still needs the row.
async fn insert_row(
    connection: &mut PgConnection,
    table_name: &str,
    table: &Table,
    row: u64,
    index: usize,
    values: Values,
) -> Result<(), RowsError> {
    let statement = insert_statement(table_name, table, row, index, values)?;
    let Err(source) = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
        .execute(&mut *connection)
        .await
    else {
        return Ok(());
    };

    let code = source.as_database_error().and_then(|error| error.code());
    let retry =
        values != Values::Plain && matches!(code.as_deref(), Some("23514" | "23505" | "23502"));
    if !retry {
        return Err(insert_error(table_name, table, statement, source));
    }
    let plain = insert_statement(table_name, table, row, index, Values::Plain)?;
    sqlx::raw_sql(AssertSqlSafe(plain.clone()))
        .execute(&mut *connection)
        .await
        .map_err(|source| insert_error(table_name, table, plain, source))?;
    Ok(())
}

/// Returns the number of rows to generate for `table`: every combination of the allowed values
/// of its IN-list columns when there are at most [`MAX_COMBINATIONS`], otherwise one row per
/// value of its longest list, and never fewer than `rows_per_table`.
fn row_count(table: &Table, rows_per_table: u32) -> usize {
    let minimum = rows_per_table as usize;
    let combinations = combination_count(table);
    if combinations <= MAX_COMBINATIONS {
        return combinations.max(minimum);
    }
    let longest = table.allowed_values.values().map(Vec::len).max();
    longest.unwrap_or(0).max(minimum)
}

/// Returns the product of the lengths of the table's IN lists, saturating at `usize::MAX`.
fn combination_count(table: &Table) -> usize {
    table
        .allowed_values
        .values()
        .fold(1, |product: usize, values| {
            product.saturating_mul(values.len())
        })
}

/// Returns the value of `column` in the table's generated row number `index` (counted from 0
/// within one call): the columns' values combine like the digits of a mixed-radix number, so
/// the first [`combination_count`] rows contain every combination. Beyond [`MAX_COMBINATIONS`]
/// each column cycles through its own values instead.
fn allowed_value<'table>(table: &'table Table, column: &str, index: usize) -> Option<&'table str> {
    let values = table.allowed_values.get(column)?;
    if combination_count(table) > MAX_COMBINATIONS {
        return values.get(index % values.len()).map(String::as_str);
    }
    let mut place = 1;
    for (name, other) in &table.allowed_values {
        if name == column {
            break;
        }
        place *= other.len();
    }
    values
        .get((index / place) % values.len())
        .map(String::as_str)
}

/// Turns a failed INSERT into an error, naming the constraint and its columns when a CHECK
/// constraint (SQLSTATE 23514) rejected the row.
fn insert_error(
    table_name: &str,
    table: &Table,
    statement: String,
    source: sqlx::Error,
) -> RowsError {
    let check = source
        .as_database_error()
        .filter(|error| error.code().as_deref() == Some("23514"))
        .and_then(|error| error.constraint())
        .map(str::to_owned);
    match check {
        Some(constraint) => {
            let columns = match table.checks.get(&constraint) {
                Some(columns) if !columns.is_empty() => columns.join(", "),
                _ => "(none found in the catalog)".to_owned(),
            };
            RowsError::CheckViolation {
                table: table_name.to_owned(),
                constraint,
                columns,
                statement,
            }
        }
        None => RowsError::Database {
            step: format!("generated row {statement}"),
            source,
        },
    }
}

async fn read_tables(connection: &mut PgConnection) -> Result<BTreeMap<String, Table>, RowsError> {
    let database = |step: &str| {
        let step = step.to_owned();
        move |source| RowsError::Database { step, source }
    };

    // Identity ALWAYS and generated columns cannot be set, so they are left out. A column of a
    // domain with NOT NULL counts as nullable here, and Postgres rejects its NULL with SQLSTATE
    // 23502, after which the row is retried with plain values.
    type ColumnRow = (String, String, String, String, String, String, bool, bool);
    let columns: Vec<ColumnRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {name}, {qualified}, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    bt.typname::text, bt.typtype::text, bt.typcategory = 'A', NOT a.attnotnull
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             JOIN pg_type bt ON bt.oid =
                 CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
             WHERE {USER_TABLES_SQL} AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attidentity <> 'a' AND a.attgenerated = ''
             ORDER BY n.nspname, c.relname, a.attnum",
        name = table_name_sql("n", "c"),
        qualified = qualified_name_sql("n", "c"),
    )))
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the columns"))?;

    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, qualified_name, name, sql_type, base_type, base_kind, is_array, nullable) in columns
    {
        let entry = tables.entry(table).or_default();
        entry.qualified_name = qualified_name;
        entry.columns.push(Column {
            name,
            sql_type,
            base_type,
            base_kind,
            is_array,
            nullable,
        });
    }

    // Enum columns, also through a domain, take every label. A CHECK IN list read below
    // replaces the labels, because it can allow fewer values.
    let enum_labels: Vec<(String, String, Vec<String>)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {name}, a.attname::text,
                array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         JOIN pg_enum e ON e.enumtypid =
             CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
         WHERE {USER_TABLES_SQL} AND a.attnum > 0 AND NOT a.attisdropped
         GROUP BY 1, a.attname",
        name = table_name_sql("n", "c"),
    )))
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the enum labels"))?;

    for (table, column, labels) in enum_labels {
        if let Some(entry) = tables.get_mut(&table) {
            entry.allowed_values.insert(column, labels);
        }
    }

    type ForeignKeyRow = (String, String, i32, String, String, String, String);
    let foreign_keys: Vec<ForeignKeyRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {name}, con.conname::text, cardinality(con.conkey), a.attname::text,
                {referenced_name}, {referenced_qualified}, ra.attname::text
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_class rc ON rc.oid = con.confrelid
         JOIN pg_namespace rn ON rn.oid = rc.relnamespace
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]
         WHERE con.contype = 'f'",
        name = table_name_sql("n", "c"),
        referenced_name = table_name_sql("rn", "rc"),
        referenced_qualified = qualified_name_sql("rn", "rc"),
    )))
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the foreign keys"))?;

    for (table, constraint, columns, column, referenced, qualified, key) in foreign_keys {
        let Some(entry) = tables.get_mut(&table) else {
            continue;
        };
        if columns != 1 {
            entry.composite_foreign_key.get_or_insert(constraint);
            continue;
        }
        let reference = Reference {
            table: referenced,
            qualified_table: qualified,
            column: key,
        };
        entry.references.insert(column, reference);
    }

    // conkey is NULL for a CHECK constraint that references no column.
    let checks: Vec<(String, String, Vec<String>, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {name}, con.conname::text,
                ARRAY(SELECT a.attname::text
                      FROM unnest(coalesce(con.conkey, '{{}}')) WITH ORDINALITY AS k(attnum, position)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                      ORDER BY k.position),
                pg_get_constraintdef(con.oid)
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE con.contype = 'c'
         ORDER BY 1, con.conname",
        name = table_name_sql("n", "c"),
    )))
    .fetch_all(&mut *connection)
    .await
    .map_err(database("reading the CHECK constraints"))?;

    for (table, constraint, columns, definition) in checks {
        let Some(entry) = tables.get_mut(&table) else {
            continue;
        };
        if let [column] = columns.as_slice()
            && let Some(values) = parse_in_list(column, &definition)
        {
            entry.allowed_values.insert(column.clone(), values);
        }
        entry.checks.insert(constraint, columns);
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
                    .all(|parent| parent.table == **name || placed.contains(&parent.table))
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

/// Builds the INSERT of generated row `row` (numbered across calls), which is row `index` of
/// this table in this call.
fn insert_statement(
    table_name: &str,
    table: &Table,
    row: u64,
    index: usize,
    values: Values,
) -> Result<String, RowsError> {
    let mut names = Vec::new();
    let mut expressions = Vec::new();
    for column in &table.columns {
        let expression = if values == Values::Nulls && column.nullable {
            format!("NULL::{}", column.sql_type)
        } else if let Some(reference) = table.references.get(&column.name) {
            format!(
                "(SELECT {key} FROM {parent} ORDER BY {key} LIMIT 1)",
                key = quote_identifier(&reference.column),
                parent = reference.qualified_table
            )
        } else if let Some(value) = allowed_value(table, &column.name, index) {
            format!("{}::{}", quote_literal(value), column.sql_type)
        } else {
            column_value(table_name, column, row, index, values)?
        };
        names.push(quote_identifier(&column.name));
        expressions.push(expression);
    }
    Ok(format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.qualified_name,
        names.join(", "),
        expressions.join(", ")
    ))
}

/// Returns an SQL expression for `column` in generated row number `row`, which is row `index`
/// of its table in this call.
fn column_value(
    table: &str,
    column: &Column,
    row: u64,
    index: usize,
    values: Values,
) -> Result<String, RowsError> {
    if let Some(literal) = known_value(table, &column.name, row) {
        return Ok(format!("{}::{}", quote_literal(&literal), column.sql_type));
    }
    if column.is_array {
        return Ok(format!("'{{}}'::{}", column.sql_type));
    }
    // Enum columns take their labels from `Table::allowed_values`, so only an enum type without
    // labels gets here, and NULL is its only value.
    if column.base_kind == "e" {
        return Ok(format!("NULL::{}", column.sql_type));
    }
    let literal = match column.base_type.as_str() {
        "uuid" => format!("00000000-0000-4000-8000-{row:012}"),
        "text" | "varchar" | "bpchar" | "citext" => format!("stepwise {row}"),
        "int2" | "int4" | "int8" if values == Values::Plain => {
            plain_integer(&column.base_type, row)
        }
        "int2" | "int4" | "int8" => integer_value(&column.base_type, row, index),
        "numeric" | "float4" | "float8" => row.to_string(),
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

/// Returns the plain value of an integer column in row `row`: a small positive number.
fn plain_integer(base_type: &str, row: u64) -> String {
    match base_type {
        "int2" => (row % 30_000).to_string(),
        _ => row.to_string(),
    }
}

/// Returns an edge value of an integer column in row `row`, chosen by the row's `index` in its
/// table: negative, near the type's maximum, zero, small positive, near the type's minimum.
/// Each value except zero depends on `row`, so a UNIQUE column gets zero only once and the
/// other values never repeat.
fn integer_value(base_type: &str, row: u64, index: usize) -> String {
    let (minimum, maximum, offset) = match base_type {
        "int2" => (
            i64::from(i16::MIN),
            i64::from(i16::MAX),
            (row % 30_000) as i64,
        ),
        "int4" => (i64::from(i32::MIN), i64::from(i32::MAX), row as i64),
        _ => (i64::MIN, i64::MAX, row as i64),
    };
    match index % 5 {
        0 => (-offset).to_string(),
        1 => (maximum - offset).to_string(),
        2 => "0".to_owned(),
        3 => offset.to_string(),
        _ => (minimum + offset).to_string(),
    }
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
        ("audit_log", "actor") => format!("stepwise {row}"),
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
            nullable: false,
        }
    }

    fn reference(table: &str, column: &str) -> Reference {
        Reference {
            table: table.to_owned(),
            qualified_table: format!("\"public\".{}", quote_identifier(table)),
            column: column.to_owned(),
        }
    }

    #[test]
    fn parents_come_first() {
        let mut tables = BTreeMap::new();
        let mut localizations = Table::default();
        localizations
            .references
            .insert("video_id".to_owned(), reference("videos", "id"));
        let mut videos = Table::default();
        videos
            .references
            .insert("owner_id".to_owned(), reference("users", "id"));
        tables.insert("localizations".to_owned(), localizations);
        tables.insert("videos".to_owned(), videos);
        tables.insert("users".to_owned(), Table::default());

        assert_eq!(parents_first(&tables), ["users", "videos", "localizations"]);
    }

    #[test]
    fn statement_sets_every_column() {
        let table = Table {
            qualified_name: "\"public\".\"users\"".to_owned(),
            columns: vec![
                column("id", "uuid", "uuid"),
                column("email", "text", "text"),
                column("created_at", "timestamp with time zone", "timestamptz"),
                column("changes", "jsonb", "jsonb"),
            ],
            ..Table::default()
        };

        let statement =
            insert_statement("users", &table, 7, 0, Values::Edge).expect("types are supported");

        assert_eq!(
            statement,
            "INSERT INTO \"public\".\"users\" (\"id\", \"email\", \"created_at\", \"changes\") VALUES \
             ('00000000-0000-4000-8000-000000000007'::uuid, \
             'stepwise7@example.test'::text, \
             '2026-01-01 00:00:00+00'::timestamp with time zone + interval '7 seconds', \
             '{\"stepwise_row\": 7}'::jsonb)"
        );
    }

    fn audit_table() -> Table {
        let mut table = Table::default();
        table.allowed_values.insert(
            "action".to_owned(),
            vec![
                "create".to_owned(),
                "update".to_owned(),
                "delete".to_owned(),
            ],
        );
        table.allowed_values.insert(
            "entity_type".to_owned(),
            vec!["user".to_owned(), "video".to_owned()],
        );
        table
    }

    #[test]
    fn row_count_covers_combinations() {
        assert_eq!(row_count(&audit_table(), 3), 6);
        assert_eq!(row_count(&audit_table(), 10), 10);
        assert_eq!(row_count(&Table::default(), 3), 3);
    }

    #[test]
    fn allowed_values_form_every_combination() {
        let table = audit_table();

        let rows: BTreeSet<(&str, &str)> = (0..6)
            .map(|index| {
                (
                    allowed_value(&table, "action", index).expect("action has allowed values"),
                    allowed_value(&table, "entity_type", index).expect("entity_type has values"),
                )
            })
            .collect();

        assert_eq!(rows.len(), 6, "rows: {rows:?}");
        assert_eq!(allowed_value(&table, "actor", 0), None);
    }

    #[test]
    fn many_combinations_cycle_each_list() {
        let mut table = Table::default();
        for name in ["a", "b", "c"] {
            let values = (0..5).map(|value| value.to_string()).collect();
            table.allowed_values.insert(name.to_owned(), values);
        }

        assert_eq!(row_count(&table, 3), 5);
        for name in ["a", "b", "c"] {
            let seen: BTreeSet<&str> = (0..5)
                .map(|index| allowed_value(&table, name, index).expect("column has values"))
                .collect();
            assert_eq!(seen.len(), 5, "column {name} values: {seen:?}");
        }
    }

    #[test]
    fn statement_uses_allowed_value() {
        let mut table = audit_table();
        table.qualified_name = "\"public\".\"audit_log\"".to_owned();
        table.columns = vec![column("action", "text", "text")];

        let statement =
            insert_statement("audit_log", &table, 9, 2, Values::Edge).expect("text is supported");

        assert_eq!(
            statement,
            "INSERT INTO \"public\".\"audit_log\" (\"action\") VALUES ('delete'::text)"
        );
    }

    #[test]
    fn unsupported_type_names_column() {
        let table = Table {
            columns: vec![column("shape", "polygon", "polygon")],
            ..Table::default()
        };

        let error = insert_statement("notes", &table, 1, 0, Values::Edge)
            .expect_err("polygon has no generator");

        assert_eq!(
            error.to_string(),
            "no value generator for column notes.shape of type polygon; add one to \
             migrations_stepwise/rows.rs"
        );
    }

    #[test]
    fn integer_values_reach_edges() {
        let values: Vec<String> = (0..5)
            .map(|index| integer_value("int4", 7, index))
            .collect();

        assert_eq!(values, ["-7", "2147483640", "0", "7", "-2147483641"]);
        assert_eq!(integer_value("int2", 7, 1), "32760");
        assert_eq!(integer_value("int8", 7, 4), "-9223372036854775801");
    }

    #[test]
    fn statement_plain_integer_is_small() {
        let table = Table {
            qualified_name: "\"side\".\"counters\"".to_owned(),
            columns: vec![column("n", "integer", "int4")],
            ..Table::default()
        };

        let edge = insert_statement("side.counters", &table, 7, 0, Values::Edge)
            .expect("integer is supported");
        let plain = insert_statement("side.counters", &table, 7, 0, Values::Plain)
            .expect("integer is supported");

        assert_eq!(
            edge,
            "INSERT INTO \"side\".\"counters\" (\"n\") VALUES ('-7'::integer)"
        );
        assert_eq!(
            plain,
            "INSERT INTO \"side\".\"counters\" (\"n\") VALUES ('7'::integer)"
        );
    }

    #[test]
    fn statement_nulls_only_nullable() {
        let mut note = column("note", "text", "text");
        note.nullable = true;
        let table = Table {
            qualified_name: "\"public\".\"notes\"".to_owned(),
            columns: vec![column("body", "text", "text"), note],
            ..Table::default()
        };

        let statement =
            insert_statement("notes", &table, 3, 3, Values::Nulls).expect("text is supported");

        assert_eq!(
            statement,
            "INSERT INTO \"public\".\"notes\" (\"body\", \"note\") VALUES \
             ('stepwise 3'::text, NULL::text)"
        );
    }
}
