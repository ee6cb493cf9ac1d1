//! Fingerprints of the data in the tables outside the system schemas: per table the row count, and per column the
//! number of non-NULL values and an MD5 checksum of every row's value paired with its primary
//! key. Two fingerprints taken before and after a migration show which data it dropped or
//! rewrote. Tables are matched by OID and columns by attribute number, so a renamed table or
//! column is compared with its data under the old name.

use std::collections::BTreeMap;

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::{USER_TABLES_SQL, qualified_name_sql, quote_identifier, table_name_sql};

/// Fingerprint of one column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnFingerprint {
    /// Attribute number (`pg_attribute.attnum`), which a rename keeps and Postgres never
    /// reuses within a table.
    pub attnum: i16,
    /// Rows where the column is not NULL.
    pub non_null: i64,
    /// MD5 of the `key=value` lines of every row, in key order.
    pub checksum: String,
}

/// Fingerprint of one table's rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableFingerprint {
    /// The table's OID (`pg_class.oid`), which `ALTER TABLE ... RENAME TO` keeps.
    pub oid: i64,
    /// Row count.
    pub rows: i64,
    /// Columns by name.
    pub columns: BTreeMap<String, ColumnFingerprint>,
}

/// Fingerprints of every table, by table name as findings show it (`notes`, `side.notes`).
pub type Fingerprint = BTreeMap<String, TableFingerprint>;

/// Reads the fingerprint of every ordinary and partitioned table outside the system schemas,
/// except sqlx's `_sqlx_migrations`.
///
/// Values are compared as their text output, so a type change that keeps the text (`integer`
/// to `bigint`) keeps the fingerprint, and one that changes it (`integer` to `numeric(10,2)`
/// turns `5` into `5.00`) does not.
pub async fn read_fingerprint(connection: &mut PgConnection) -> Result<Fingerprint, sqlx::Error> {
    let columns: Vec<(String, String, i64, String, i16)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {name}, {qualified}, c.oid::int8, a.attname::text, a.attnum
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {USER_TABLES_SQL} AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY n.nspname, c.relname, a.attnum",
        name = table_name_sql("n", "c"),
        qualified = qualified_name_sql("n", "c"),
    )))
    .fetch_all(&mut *connection)
    .await?;
    let primary_keys: Vec<(i64, String)> = sqlx::query_as(
        "SELECT x.indrelid::int8, a.attname::text
         FROM pg_index x
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
         WHERE x.indisprimary
         ORDER BY x.indrelid, k.position",
    )
    .fetch_all(&mut *connection)
    .await?;

    // Table name to its qualified name, OID and (column, attnum) pairs.
    type TableColumns = (String, i64, Vec<(String, i16)>);
    let mut tables: BTreeMap<String, TableColumns> = BTreeMap::new();
    for (table, qualified, oid, column, attnum) in columns {
        let entry = tables
            .entry(table)
            .or_insert_with(|| (qualified, oid, Vec::new()));
        entry.2.push((column, attnum));
    }
    let mut keys: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (oid, column) in primary_keys {
        keys.entry(oid).or_default().push(column);
    }

    let mut fingerprint = Fingerprint::new();
    for (table, (qualified, oid, columns)) in &tables {
        let key = keys.get(oid).map(Vec::as_slice).unwrap_or_default();
        let names: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
        let sql = fingerprint_query(qualified, &names, key);
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&mut *connection)
            .await?;
        fingerprint.insert(table.clone(), table_fingerprint(&row, *oid, columns)?);
    }
    Ok(fingerprint)
}

/// Builds one query on `table`, a schema-qualified and quoted name, that returns the row count, then a non-NULL count and a checksum per
/// column. Without a primary key, each column's values are checksummed in value order, which
/// still shows a dropped or rewritten value but not two values that swapped rows.
fn fingerprint_query(table: &str, columns: &[String], key: &[String]) -> String {
    let key_expression = if key.is_empty() {
        None
    } else {
        let parts: Vec<String> = key
            .iter()
            .map(|column| format!("{}::text", quote_identifier(column)))
            .collect();
        Some(format!("concat_ws(',', {})", parts.join(", ")))
    };

    let mut select = vec!["count(*)::int8".to_owned()];
    for column in columns {
        let value = format!("coalesce({}::text, '\\N')", quote_identifier(column));
        let (line, order) = match &key_expression {
            Some(key) => (format!("{key} || '=' || {value}"), key.clone()),
            None => (value.clone(), value),
        };
        select.push(format!("count({})::int8", quote_identifier(column)));
        select.push(format!(
            "md5(coalesce(string_agg({line}, E'\\n' ORDER BY {order}), ''))"
        ));
    }
    format!("SELECT {} FROM {table}", select.join(", "))
}

fn table_fingerprint(
    row: &PgRow,
    oid: i64,
    columns: &[(String, i16)],
) -> Result<TableFingerprint, sqlx::Error> {
    let mut table = TableFingerprint {
        oid,
        rows: row.try_get(0)?,
        columns: BTreeMap::new(),
    };
    for (index, (column, attnum)) in columns.iter().enumerate() {
        let column_fingerprint = ColumnFingerprint {
            attnum: *attnum,
            non_null: row.try_get(1 + 2 * index)?,
            checksum: row.try_get(2 + 2 * index)?,
        };
        table.columns.insert(column.clone(), column_fingerprint);
    }
    Ok(table)
}

/// Compares the fingerprint taken before a migration with the one taken after it and returns
/// one finding per table or column whose data the migration dropped or changed, each starting
/// with `migration` (such as `migration 3 (0003_drop_body.sql)`). Tables and columns that the
/// migration added are not findings.
///
/// A table is matched by OID first and by name second, so a renamed table is followed and a
/// table rebuilt under its old name (created anew, filled, renamed into place) is compared by
/// name. Columns are matched the same way by attribute number and name. A copy into a table of
/// another name is not followed: it shows as a dropped table.
pub fn compare_fingerprints(
    migration: &str,
    before: &Fingerprint,
    after: &Fingerprint,
) -> Vec<String> {
    let mut findings = Vec::new();
    for (table, old) in before {
        let Some((new_name, new)) = find_table(after, table, old.oid) else {
            if old.rows > 0 {
                findings.push(format!(
                    "{migration} dropped table {table}, which held {} rows (no table keeps its \
                     OID or its name)",
                    old.rows
                ));
            }
            continue;
        };
        let table_label = renamed(table, new_name);
        let renamed_column =
            |old: &str, new: &str| renamed(&format!("{table}.{old}"), &format!("{new_name}.{new}"));
        if new.rows != old.rows {
            findings.push(format!(
                "{migration} changed the row count of table {table_label} from {} to {}",
                old.rows, new.rows
            ));
            // Every column checksum changes with the row count, so they would only repeat it.
            continue;
        }
        for (column, old_column) in &old.columns {
            // Attribute numbers identify a column only within the same table.
            let attnum = (new.oid == old.oid).then_some(old_column.attnum);
            let Some((new_column_name, new_column)) = find_column(new, column, attnum) else {
                if old_column.non_null > 0 {
                    findings.push(format!(
                        "{migration} dropped column {}, which held data in {} of {} rows",
                        renamed_column(column, column),
                        old_column.non_null,
                        old.rows
                    ));
                }
                continue;
            };
            let same_values = new_column.non_null == old_column.non_null
                && new_column.checksum == old_column.checksum;
            if !same_values {
                findings.push(format!(
                    "{migration} rewrote the values of column {}: the checksum of its {} rows \
                     changed ({} to {} non-NULL values)",
                    renamed_column(column, new_column_name),
                    old.rows,
                    old_column.non_null,
                    new_column.non_null
                ));
            }
        }
    }
    findings
}

fn find_table<'a>(
    after: &'a Fingerprint,
    name: &str,
    oid: i64,
) -> Option<(&'a String, &'a TableFingerprint)> {
    after
        .iter()
        .find(|(_, table)| table.oid == oid)
        .or_else(|| after.get_key_value(name))
}

fn find_column<'a>(
    table: &'a TableFingerprint,
    name: &str,
    attnum: Option<i16>,
) -> Option<(&'a String, &'a ColumnFingerprint)> {
    table
        .columns
        .iter()
        .find(|(_, column)| Some(column.attnum) == attnum)
        .or_else(|| table.columns.get_key_value(name))
}

/// Names a table or column as `old (now new)` when a migration renamed it.
fn renamed(old: &str, new: &str) -> String {
    if old == new {
        old.to_owned()
    } else {
        format!("{old} (now {new})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATION: &str = "migration 3 (0003_x.sql)";

    /// Builds a table fingerprint whose columns get attribute numbers 1, 2, ... in order.
    fn table(oid: i64, rows: i64, columns: &[(&str, i64, &str)]) -> TableFingerprint {
        TableFingerprint {
            oid,
            rows,
            columns: columns
                .iter()
                .zip(1..)
                .map(|((name, non_null, checksum), attnum)| {
                    (
                        (*name).to_owned(),
                        ColumnFingerprint {
                            attnum,
                            non_null: *non_null,
                            checksum: (*checksum).to_owned(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn fingerprint(tables: &[(&str, TableFingerprint)]) -> Fingerprint {
        tables
            .iter()
            .map(|(name, table)| ((*name).to_owned(), table.clone()))
            .collect()
    }

    fn notes(oid: i64) -> TableFingerprint {
        table(oid, 2, &[("id", 2, "a"), ("body", 2, "b")])
    }

    #[test]
    fn compare_unchanged_and_added_is_clean() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[
            (
                "notes",
                table(10, 2, &[("id", 2, "a"), ("body", 2, "b"), ("tag", 0, "c")]),
            ),
            ("tags", table(11, 0, &[("id", 0, "d")])),
        ]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn compare_dropped_column_is_finding() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            ["migration 3 (0003_x.sql) dropped column notes.body, which held data in 2 of 2 rows"]
        );
    }

    #[test]
    fn compare_dropped_empty_column_is_clean() {
        let before = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a"), ("body", 0, "b")]))]);
        let after = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn compare_rewritten_column_is_finding() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a"), ("body", 2, "x")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            [
                "migration 3 (0003_x.sql) rewrote the values of column notes.body: the checksum \
              of its 2 rows changed (2 to 2 non-NULL values)"
            ]
        );
    }

    #[test]
    fn compare_deleted_rows_is_one_finding() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("notes", table(10, 1, &[("id", 1, "c"), ("body", 1, "d")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            ["migration 3 (0003_x.sql) changed the row count of table notes from 2 to 1"]
        );
    }

    #[test]
    fn compare_dropped_table_is_finding() {
        let before = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a")]))]);
        let after = Fingerprint::new();

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            [
                "migration 3 (0003_x.sql) dropped table notes, which held 2 rows (no table keeps \
                 its OID or its name)"
            ]
        );
    }

    #[test]
    fn compare_renamed_table_is_clean() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("memos", notes(10))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn compare_renamed_column_is_clean() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("notes", table(10, 2, &[("id", 2, "a"), ("text", 2, "b")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn compare_renamed_table_with_deleted_rows_is_finding() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("memos", table(10, 1, &[("id", 1, "c"), ("body", 1, "d")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            [
                "migration 3 (0003_x.sql) changed the row count of table notes (now memos) from 2 \
                 to 1"
            ]
        );
    }

    #[test]
    fn compare_renamed_column_with_new_values_is_finding() {
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("memos", table(10, 2, &[("id", 2, "a"), ("text", 2, "x")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert_eq!(
            findings,
            [
                "migration 3 (0003_x.sql) rewrote the values of column notes.body (now \
                 memos.text): the checksum of its 2 rows changed (2 to 2 non-NULL values)"
            ]
        );
    }

    #[test]
    fn compare_rebuilt_table_matches_by_name() {
        // A table rebuilt under its old name has a new OID and new attribute numbers.
        let before = fingerprint(&[("notes", notes(10))]);
        let after = fingerprint(&[("notes", table(20, 2, &[("body", 2, "b"), ("id", 2, "a")]))]);

        let findings = compare_fingerprints(MIGRATION, &before, &after);

        assert!(findings.is_empty(), "unexpected findings: {findings:?}");
    }

    #[test]
    fn query_pairs_values_with_primary_key() {
        let sql = fingerprint_query(
            "\"public\".\"notes\"",
            &["id".to_owned(), "body".to_owned()],
            &["id".to_owned()],
        );

        assert!(
            sql.contains(
                "string_agg(concat_ws(',', \"id\"::text) || '=' || coalesce(\"body\"::text, '\\N')"
            ),
            "{sql}"
        );
        assert!(sql.ends_with("FROM \"public\".\"notes\""), "{sql}");
    }
}
