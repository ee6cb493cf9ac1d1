//! Default privileges (`ALTER DEFAULT PRIVILEGES`, stored in `pg_default_acl`) as part of the
//! schema description: one object per role, schema and object type, such as
//! `default privileges for role lv_migrator in schema public on tables`, whose parts are its
//! grants. Global default privileges (set without `IN SCHEMA`) have no schema in the header.
//!
//! PostgreSQL 15 stores a global entry as the whole privilege list that replaces the built-in
//! default, and a per-schema entry as privileges added to it. A global entry that revokes
//! everything has an empty list, so it is described as `no privileges` rather than left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::schema::{collect_grants, grantee, render_grants, single_line, user_schema};

/// Describes every `pg_default_acl` entry of the current database, in a global scope or in a
/// schema that is not a system schema.
pub(crate) async fn describe_default_privileges(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    type DefaultPrivilegeRow = (
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    // The LEFT JOIN keeps an entry whose privilege list is empty: its aclexplode has no row.
    let rows: Vec<DefaultPrivilegeRow> = sqlx::query_as(concat!(
        "SELECT quote_ident(pg_get_userbyid(d.defaclrole)),
                CASE WHEN d.defaclnamespace = 0 THEN NULL ELSE quote_ident(n.nspname) END,
                d.defaclobjtype::text, ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_default_acl d
         LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
         LEFT JOIN LATERAL aclexplode(d.defaclacl) g ON true
         WHERE d.defaclnamespace = 0 OR ",
        user_schema!("n")
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut entries: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for (role, schema, object_type, grantee, privilege, grantable) in rows {
        let header = entry_header(&single_line(role), schema.map(single_line), &object_type);
        let grants = entries.entry(header).or_default();
        if let (Some(grantee), Some(privilege), Some(grantable)) = (grantee, privilege, grantable) {
            grants.push((grantee, privilege, grantable));
        }
    }

    for (header, grants) in entries {
        writeln!(out, "{header}").unwrap();
        if grants.is_empty() {
            writeln!(out, "  no privileges").unwrap();
        }
        render_grants(&collect_grants(grants), "  ", out);
    }
    Ok(())
}

/// Returns the header of one entry, such as `default privileges for role lv_migrator in schema
/// public on tables`.
fn entry_header(role: &str, schema: Option<String>, object_type: &str) -> String {
    let objects = match object_type {
        "r" => "tables",
        "S" => "sequences",
        "f" => "functions",
        "T" => "types",
        "n" => "schemas",
        _ => "objects",
    };
    match schema {
        Some(schema) => {
            format!("default privileges for role {role} in schema {schema} on {objects}")
        }
        None => format!("default privileges for role {role} on {objects}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_role_schema_and_type() {
        assert_eq!(
            entry_header("lv_migrator", Some("public".to_owned()), "r"),
            "default privileges for role lv_migrator in schema public on tables"
        );
    }

    #[test]
    fn global_header_has_no_schema() {
        assert_eq!(
            entry_header("\"Ops Team\"", None, "f"),
            "default privileges for role \"Ops Team\" on functions"
        );
    }
}
