//! A canonical text description of a database's schemas, read from pg_catalog,
//! so that two databases built from the same migrations compare byte for byte.
//!
//! It covers every schema except the system ones (`pg_catalog`,
//! `information_schema`, `pg_toast*`, `pg_temp*`). For each it lists the owner
//! and grants, extensions, enum and domain types, functions and default
//! privileges. Relations (tables, views, sequences) come with their columns,
//! constraints, indexes, triggers, row-level security and policies, owners and
//! grants. States that differ from the default get a line or a suffix of their
//! own: an UNLOGGED table, storage parameters (`reloptions`), a trigger that is
//! disabled or fires only in replica mode or always, an index that is invalid,
//! not ready or not live, and a constraint whose internal enforcement triggers
//! are disabled. A schema in the default state has none of these lines. Objects in `public` are named without their schema (`table
//! videos`), objects elsewhere with it (`table audit.events`). Names are quoted
//! like `quote_ident` does. It contains no OIDs, no times and no data:
//! `_sqlx_migrations` appears with its structure and grants but without its
//! rows. Every list is sorted in Rust by byte order, so the database's
//! collation does not change the output.
//!
//! NOTE: the text of `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`
//! and `pg_get_functiondef` can change between PostgreSQL major versions; the
//! committed snapshot is taken on PostgreSQL 15.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::default_privileges::describe_default_privileges;

/// SQL condition that is true for a schema that is not a system schema. `$namespace` is the
/// alias of a `pg_namespace` row. The backslash makes `_` literal in LIKE.
macro_rules! user_schema {
    ($namespace:literal) => {
        concat!(
            "(",
            $namespace,
            ".nspname NOT IN ('pg_catalog', 'information_schema') AND ",
            $namespace,
            ".nspname NOT LIKE 'pg\\_toast%' AND ",
            $namespace,
            ".nspname NOT LIKE 'pg\\_temp\\_%')"
        )
    };
}

/// SQL expression for the name of an object in the description: `quote_ident(name)` in schema
/// `public`, and `quote_ident(schema).quote_ident(name)` in any other schema.
macro_rules! qualified_name {
    ($namespace:literal, $name:literal) => {
        concat!(
            "CASE WHEN ",
            $namespace,
            ".nspname = 'public' THEN quote_ident(",
            $name,
            ") ",
            "ELSE quote_ident(",
            $namespace,
            ".nspname) || '.' || quote_ident(",
            $name,
            ") END"
        )
    };
}

/// SQL expression for the grantee of an `aclexplode` row: `PUBLIC` for OID 0, else the quoted
/// role name, so that a role named `PUBLIC` shows as `"PUBLIC"`.
macro_rules! grantee {
    ($acl:literal) => {
        concat!(
            "CASE WHEN ",
            $acl,
            ".grantee = 0 THEN 'PUBLIC' ",
            "ELSE quote_ident(pg_get_userbyid(",
            $acl,
            ".grantee)) END"
        )
    };
}

pub(crate) use {grantee, user_schema};

/// Grants of one object: grantee (a role name, or `PUBLIC`) to privileges.
/// A privilege held `WITH GRANT OPTION` carries the suffix ` (grant option)`.
type Grants = BTreeMap<String, BTreeSet<String>>;

/// Everything described about one relation.
#[derive(Default)]
struct Relation {
    kind: &'static str,
    owner: String,
    /// True for an UNLOGGED table (`relpersistence = 'u'`).
    unlogged: bool,
    /// Storage parameters from `reloptions` (`fillfactor=70`), sorted.
    options: Vec<String>,
    row_security: Option<&'static str>,
    /// Columns by attribute number, so that the declared order is kept.
    columns: BTreeMap<i16, String>,
    constraints: BTreeMap<String, String>,
    indexes: BTreeMap<String, String>,
    triggers: BTreeMap<String, String>,
    /// Row-level security policies by quoted name.
    policies: BTreeMap<String, String>,
    /// View definition or sequence parameters.
    definition: Option<String>,
    grants: Grants,
    column_grants: BTreeMap<String, Grants>,
}

/// Reads the description of schema `public` through `connection`, which may be
/// inside a transaction, such as the read-only one of `harness drift`.
///
/// Needs only the catalog access that every role has, so the read-only
/// auditor role can run it.
pub async fn describe_schema(connection: &mut PgConnection) -> Result<String, sqlx::Error> {
    let mut out = String::new();

    describe_namespaces(connection, &mut out).await?;
    describe_extensions(connection, &mut out).await?;
    describe_types(connection, &mut out).await?;

    let mut relations = read_relations(connection).await?;
    read_columns(connection, &mut relations).await?;
    read_constraints(connection, &mut relations).await?;
    read_indexes(connection, &mut relations).await?;
    read_triggers(connection, &mut relations).await?;
    read_policies(connection, &mut relations).await?;
    read_relation_grants(connection, &mut relations).await?;
    read_column_grants(connection, &mut relations).await?;
    for (name, relation) in &relations {
        render_relation(name, relation, &mut out);
    }

    describe_functions(connection, &mut out).await?;
    describe_default_privileges(connection, &mut out).await?;

    Ok(out)
}

/// Describes every schema that is not a system schema, with its owner and grants.
async fn describe_namespaces(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    let owners: Vec<(String, String)> = sqlx::query_as(concat!(
        "SELECT quote_ident(n.nspname), quote_ident(pg_get_userbyid(n.nspowner))
         FROM pg_namespace n WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(concat!(
        "SELECT quote_ident(n.nspname), ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_namespace n,
              LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) g
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;
    let mut grants = group_grants(rows);

    let mut schemas: Vec<(String, String)> = owners
        .into_iter()
        .map(|(name, owner)| (single_line(name), single_line(owner)))
        .collect();
    schemas.sort();
    for (name, owner) in schemas {
        writeln!(out, "schema {name}").unwrap();
        writeln!(out, "  owner {owner}").unwrap();
        let schema_grants = grants.remove(&name).unwrap_or_default();
        render_grants(&collect_grants(schema_grants), "  ", out);
    }
    Ok(())
}

async fn describe_extensions(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    let mut names: Vec<(String, String)> = sqlx::query_as(concat!(
        "SELECT quote_ident(e.extname), quote_ident(n.nspname)
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;
    names.sort();

    for (name, schema) in names {
        writeln!(out, "extension {}", single_line(name)).unwrap();
        if schema != "public" {
            writeln!(out, "  schema {}", single_line(schema)).unwrap();
        }
    }
    Ok(())
}

/// Describes enum and domain types that no extension owns.
async fn describe_types(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "t.typname"),
        ", quote_ident(pg_get_userbyid(t.typowner)),
                CASE t.typtype
                    WHEN 'e' THEN 'enum (' || (
                        SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                        FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
                    ELSE 'domain ' || format_type(t.typbasetype, t.typtypmod)
                         || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                         || coalesce(' default ' || t.typdefault, '')
                END,
                CASE WHEN t.typtype = 'd' THEN (
                    SELECT string_agg(c.conname || ': ' || pg_get_constraintdef(c.oid), '; '
                                      ORDER BY c.conname COLLATE \"C\")
                    FROM pg_constraint c WHERE c.contypid = t.oid) END
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                             AND d.deptype = 'e')
           AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut types: Vec<_> = rows
        .into_iter()
        .map(|(name, owner, definition, constraints)| {
            (
                single_line(name),
                single_line(owner),
                definition,
                constraints,
            )
        })
        .collect();
    types.sort();
    for (name, owner, definition, constraints) in types {
        writeln!(out, "type {name}").unwrap();
        writeln!(out, "  owner {owner}").unwrap();
        writeln!(out, "  {definition}").unwrap();
        if let Some(constraints) = constraints {
            writeln!(out, "  constraints {constraints}").unwrap();
        }
    }
    Ok(())
}

async fn read_relations(
    connection: &mut PgConnection,
) -> Result<BTreeMap<String, Relation>, sqlx::Error> {
    type RelationRow = (
        String,
        String,
        String,
        bool,
        bool,
        Option<String>,
        String,
        Option<Vec<String>>,
    );
    let rows: Vec<RelationRow> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", c.relkind::text, quote_ident(pg_get_userbyid(c.relowner)),
                c.relrowsecurity, c.relforcerowsecurity,
                CASE
                    WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true)
                    WHEN c.relkind = 'S' THEN (
                        SELECT format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
                               || ' increment ' || s.seqincrement || ' min ' || s.seqmin
                               || ' max ' || s.seqmax || ' cache ' || s.seqcache
                               || CASE WHEN s.seqcycle THEN ' cycle' ELSE ' no cycle' END
                        FROM pg_sequence s WHERE s.seqrelid = c.oid)
                END,
                c.relpersistence::text, c.reloptions
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut relations = BTreeMap::new();
    for (name, kind, owner, row_security, force_row_security, definition, persistence, options) in
        rows
    {
        let mut options: Vec<String> = options
            .unwrap_or_default()
            .into_iter()
            .map(|option| single_line_text(&option))
            .collect();
        options.sort();
        let relation = Relation {
            kind: relation_kind(&kind),
            owner: single_line(owner),
            unlogged: persistence == "u",
            options,
            row_security: match (row_security, force_row_security) {
                (false, _) => None,
                (true, false) => Some("enabled"),
                (true, true) => Some("enabled, forced"),
            },
            definition,
            ..Relation::default()
        };
        relations.insert(single_line(name), relation);
    }
    Ok(relations)
}

fn relation_kind(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "S" => "sequence",
        "f" => "foreign table",
        _ => "relation",
    }
}

async fn read_columns(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    type ColumnRow = (
        String,
        i16,
        String,
        String,
        bool,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<ColumnRow> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", a.attnum, a.attname::text,
                format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND a.attnum > 0 AND NOT a.attisdropped AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    for (table, attnum, name, data_type, not_null, default, identity, generated, collation) in rows
    {
        let mut line = format!("{name} {data_type}");
        if let Some(collation) = collation {
            write!(line, " collate {collation}").unwrap();
        }
        if not_null {
            line.push_str(" not null");
        }
        if identity == "a" {
            line.push_str(" generated always as identity");
        } else if identity == "d" {
            line.push_str(" generated by default as identity");
        } else if let Some(expression) = default {
            // For a generated column, pg_attrdef stores the generation expression.
            if generated == "s" {
                write!(line, " generated always as ({expression}) stored").unwrap();
            } else {
                write!(line, " default {expression}").unwrap();
            }
        }
        if let Some(relation) = relations.get_mut(&single_line(table)) {
            relation.columns.insert(attnum, line);
        }
    }
    Ok(())
}

async fn read_constraints(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", con.conname::text, con.contype::text,
                coalesce((SELECT string_agg(a.attname::text, ', ' ORDER BY k.position)
                          FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
                          JOIN pg_attribute a
                            ON a.attrelid = con.conrelid AND a.attnum = k.attnum), ''),
                pg_get_constraintdef(con.oid)
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut enforcement = read_enforcement_states(connection).await?;
    for (table, name, contype, columns, definition) in rows {
        let table = single_line(table);
        let kind = match contype.as_str() {
            "p" => "primary key",
            "u" => "unique",
            "f" => "foreign key",
            "c" => "check",
            "x" => "exclusion",
            "n" => "not null",
            "t" => "constraint trigger",
            _ => "constraint",
        };
        let mut line = format!("{kind} ({columns}): {definition}");
        if let Some(states) = enforcement.remove(&(table.clone(), name.clone())) {
            let states: Vec<String> = states.into_iter().collect();
            write!(line, " (enforcement triggers {})", states.join(", ")).unwrap();
        }
        if let Some(relation) = relations.get_mut(&table) {
            relation.constraints.insert(name, line);
        }
    }
    Ok(())
}

/// Reads the internal triggers that enforce a constraint (foreign keys, deferrable unique
/// keys) and are not in the default `enabled` state, keyed by constraint table and name. Each
/// value is a set like `disabled on videos`. `ALTER TABLE videos DISABLE TRIGGER ALL` disables
/// the triggers on `videos` of both its own foreign keys and those that reference it, which
/// turns off their enforcement without any change to `pg_constraint`.
async fn read_enforcement_states(
    connection: &mut PgConnection,
) -> Result<BTreeMap<(String, String), BTreeSet<String>>, sqlx::Error> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", con.conname::text, ",
        qualified_name!("tn", "tc.relname"),
        ", t.tgenabled::text
         FROM pg_trigger t
         JOIN pg_constraint con ON con.oid = t.tgconstraint
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_class tc ON tc.oid = t.tgrelid
         JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE t.tgisinternal AND t.tgenabled <> 'O' AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut states: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (table, constraint, trigger_table, enabled) in rows {
        let state = format!(
            "{} on {}",
            trigger_state(&enabled).unwrap_or("in an unknown state"),
            single_line(trigger_table)
        );
        states
            .entry((single_line(table), constraint))
            .or_default()
            .insert(state);
    }
    Ok(states)
}

/// Returns the words for a `pg_trigger.tgenabled` value other than the default `O` (fires in
/// origin and local session replication roles), or `None` for `O`.
fn trigger_state(tgenabled: &str) -> Option<&'static str> {
    match tgenabled {
        "O" => None,
        "D" => Some("disabled"),
        "R" => Some("enabled replica"),
        "A" => Some("enabled always"),
        _ => Some("in an unknown state"),
    }
}

async fn read_indexes(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, bool, bool, bool)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "t.relname"),
        ", i.relname::text, pg_get_indexdef(i.oid), x.indisvalid, x.indisready, x.indislive
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    // A failed or interrupted CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY leaves an index
    // that is invalid, which queries never use although writes still maintain it. An earlier
    // failure can also leave it not ready (writes skip it) or not live (being dropped).
    // pg_get_indexdef shows none of these flags.
    for (table, name, mut definition, valid, ready, live) in rows {
        let mut flags = Vec::new();
        if !valid {
            flags.push("invalid");
        }
        if !ready {
            flags.push("not ready");
        }
        if !live {
            flags.push("not live");
        }
        if !flags.is_empty() {
            write!(definition, " ({})", flags.join(", ")).unwrap();
        }
        if let Some(relation) = relations.get_mut(&single_line(table)) {
            relation.indexes.insert(name, definition);
        }
    }
    Ok(())
}

async fn read_triggers(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", t.tgname::text, pg_get_triggerdef(t.oid), t.tgenabled::text
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    // pg_get_triggerdef omits the ALTER TABLE ... DISABLE / ENABLE REPLICA / ENABLE ALWAYS
    // state, so a trigger that does not fire would look the same as one that does.
    for (table, name, mut definition, enabled) in rows {
        if let Some(state) = trigger_state(&enabled) {
            write!(definition, " ({state})").unwrap();
        }
        if let Some(relation) = relations.get_mut(&single_line(table)) {
            relation.triggers.insert(name, definition);
        }
    }
    Ok(())
}

/// Reads the row-level security policies: command, permissive or restrictive, roles, and the
/// USING and WITH CHECK expressions.
async fn read_policies(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    type PolicyRow = (
        String,
        String,
        bool,
        String,
        Vec<String>,
        Option<String>,
        Option<String>,
    );
    // polroles contains OID 0 for PUBLIC, the default when a policy names no role.
    let rows: Vec<PolicyRow> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", quote_ident(p.polname), p.polpermissive, p.polcmd::text,
                ARRAY(SELECT CASE WHEN r.role = 0 THEN 'PUBLIC'
                                  ELSE quote_ident(pg_get_userbyid(r.role)) END
                      FROM unnest(p.polroles) AS r(role)),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
         FROM pg_policy p
         JOIN pg_class c ON c.oid = p.polrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    for (table, name, permissive, command, roles, using, with_check) in rows {
        let mut roles: Vec<String> = roles.into_iter().map(single_line).collect();
        roles.sort();
        let command = match command.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let kind = if permissive {
            "permissive"
        } else {
            "restrictive"
        };
        let mut line = format!("{kind} for {command} to {}", roles.join(", "));
        if let Some(using) = using {
            write!(line, " using ({using})").unwrap();
        }
        if let Some(with_check) = with_check {
            write!(line, " with check ({with_check})").unwrap();
        }
        if let Some(relation) = relations.get_mut(&single_line(table)) {
            relation.policies.insert(single_line(name), line);
        }
    }
    Ok(())
}

/// Reads table and sequence grants. A relation that was never granted on has
/// a NULL ACL, which means the owner's default privileges, so
/// `acldefault` fills it in.
async fn read_relation_grants(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace,
         LATERAL aclexplode(coalesce(c.relacl, acldefault(
             CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END,
             c.relowner))) g
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    for (name, rows) in group_grants(rows) {
        if let Some(relation) = relations.get_mut(&name) {
            relation.grants = collect_grants(rows);
        }
    }
    Ok(())
}

async fn read_column_grants(
    connection: &mut PgConnection,
    relations: &mut BTreeMap<String, Relation>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, String, bool)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "c.relname"),
        ", a.attname::text, ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace,
         LATERAL aclexplode(a.attacl) g
         WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    for (table, column, grantee, privilege, grantable) in rows {
        if let Some(relation) = relations.get_mut(&single_line(table)) {
            let grants = relation.column_grants.entry(column).or_default();
            grants
                .entry(single_line(grantee))
                .or_default()
                .insert(privilege_label(privilege, grantable));
        }
    }
    Ok(())
}

/// Describes functions and procedures that no extension owns, with their
/// owners, grants and full definitions.
async fn describe_functions(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "p.proname"),
        " || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                               WHEN 'w' THEN 'window function' ELSE 'function' END,
                quote_ident(pg_get_userbyid(p.proowner)),
                CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                             AND d.deptype = 'e')
           AND ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let grant_rows: Vec<(String, String, String, bool)> = sqlx::query_as(concat!(
        "SELECT ",
        qualified_name!("n", "p.proname"),
        " || '(' || pg_get_function_identity_arguments(p.oid) || ')', ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace,
         LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) g
         WHERE ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;
    let mut grants = group_grants(grant_rows);

    let mut functions: Vec<_> = rows
        .into_iter()
        .map(|(signature, kind, owner, definition)| {
            (single_line(signature), kind, single_line(owner), definition)
        })
        .collect();
    functions.sort();
    for (signature, kind, owner, definition) in functions {
        writeln!(out, "{kind} {signature}").unwrap();
        writeln!(out, "  owner {owner}").unwrap();
        let function_grants = grants.remove(&signature).unwrap_or_default();
        render_grants(&collect_grants(function_grants), "  ", out);
        if let Some(definition) = definition {
            writeln!(out, "  definition").unwrap();
            for line in definition.trim_end().lines() {
                writeln!(out, "    {}", line.trim_end()).unwrap();
            }
        }
    }
    Ok(())
}

fn privilege_label(privilege: String, grantable: bool) -> String {
    if grantable {
        format!("{privilege} (grant option)")
    } else {
        privilege
    }
}

pub(crate) fn collect_grants(rows: Vec<(String, String, bool)>) -> Grants {
    let mut grants = Grants::new();
    for (grantee, privilege, grantable) in rows {
        grants
            .entry(single_line(grantee))
            .or_default()
            .insert(privilege_label(privilege, grantable));
    }
    grants
}

/// Groups `(object, grantee, privilege, grantable)` rows by object, with the object name made
/// single-line like the headers that look them up.
fn group_grants(
    rows: Vec<(String, String, String, bool)>,
) -> BTreeMap<String, Vec<(String, String, bool)>> {
    let mut by_object: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for (object, grantee, privilege, grantable) in rows {
        by_object
            .entry(single_line(object))
            .or_default()
            .push((grantee, privilege, grantable));
    }
    by_object
}

/// Returns a name quoted by `quote_ident` on one line. A quoted name may contain control
/// characters such as a newline, which would split a line of the description, so such a name
/// is written in PostgreSQL's Unicode escape form (`U&"a\000Ab"`), which names the same object.
pub(crate) fn single_line(quoted: String) -> String {
    if !quoted.chars().any(char::is_control) {
        return quoted;
    }
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(&quoted);
    let mut escaped = String::from("U&\"");
    for character in inner.chars() {
        if character == '\\' {
            escaped.push_str("\\\\");
        } else if character.is_control() {
            write!(escaped, "\\{:04X}", u32::from(character)).unwrap();
        } else {
            escaped.push(character);
        }
    }
    escaped.push('"');
    escaped
}

/// Returns unquoted text, such as a storage parameter, on one line: each control character is
/// written as `\u{..}` so that it cannot split a line of the description.
fn single_line_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_control() {
            escaped.extend(character.escape_unicode());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

pub(crate) fn render_grants(grants: &Grants, indent: &str, out: &mut String) {
    for (grantee, privileges) in grants {
        let privileges: Vec<&str> = privileges.iter().map(String::as_str).collect();
        writeln!(out, "{indent}grant {grantee}: {}", privileges.join(", ")).unwrap();
    }
}

fn render_relation(name: &str, relation: &Relation, out: &mut String) {
    writeln!(out, "{} {name}", relation.kind).unwrap();
    writeln!(out, "  owner {}", relation.owner).unwrap();
    if relation.unlogged {
        writeln!(out, "  persistence unlogged").unwrap();
    }
    // `option fillfactor = 70`, so that the diff keys on the option name and a changed value
    // is one difference.
    for option in &relation.options {
        match option.split_once('=') {
            Some((name, value)) => writeln!(out, "  option {name} = {value}").unwrap(),
            None => writeln!(out, "  option {option}").unwrap(),
        }
    }
    if let Some(row_security) = relation.row_security {
        writeln!(out, "  row level security {row_security}").unwrap();
    }
    if let Some(definition) = &relation.definition {
        for line in definition.trim_end().lines() {
            writeln!(out, "  definition {}", line.trim_end()).unwrap();
        }
    }
    for column in relation.columns.values() {
        writeln!(out, "  column {column}").unwrap();
    }
    for (name, constraint) in &relation.constraints {
        writeln!(out, "  constraint {name} {constraint}").unwrap();
    }
    for (name, index) in &relation.indexes {
        writeln!(out, "  index {name}: {index}").unwrap();
    }
    for (name, trigger) in &relation.triggers {
        writeln!(out, "  trigger {name}: {trigger}").unwrap();
    }
    for (name, policy) in &relation.policies {
        writeln!(out, "  policy {name}: {policy}").unwrap();
    }
    render_grants(&relation.grants, "  ", out);
    for (column, grants) in &relation.column_grants {
        let indent = format!("  column {column} ");
        render_grants(grants, &indent, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_quoted_name_is_unchanged() {
        assert_eq!(single_line("\"Ops Team\"".to_owned()), "\"Ops Team\"");
    }

    #[test]
    fn newline_in_name_is_escaped() {
        assert_eq!(single_line("\"a\nb\\c\"".to_owned()), "U&\"a\\000Ab\\\\c\"");
    }
}
