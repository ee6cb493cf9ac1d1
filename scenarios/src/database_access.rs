//! Access to the current database, as `harness drift` compares it: the database's owner and
//! grants (CONNECT, TEMPORARY, CREATE), and the attributes and memberships of the roles that
//! the database refers to.
//!
//! This is not part of [`describe_schema`](crate::schema::describe_schema), because the harness
//! bootstrap or the server's administrator sets these, not the migrations. The snapshot,
//! `migrations.replay` and `migrations.roundtrip` therefore do not depend on them.
//!
//! The described roles are the ones that `pg_shdepend` records for the current database: owners
//! of its objects, grantees in its privilege lists, roles named by policies and default
//! privileges, and the owner and grantees of the database itself. PostgreSQL 15 records no
//! dependency on the bootstrap superuser (a pinned object), so that role is never described.
//! A role's password and verifier are never read: `pg_roles` shows them masked, and the query
//! reads only the attribute columns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::schema::{collect_grants, grantee, render_grants, single_line};

/// Header of the database object. The database's name is left out because the live database
/// and the reference may be named differently.
pub const DATABASE_HEADER: &str = "current database";

/// SQL subquery for the OIDs of the roles the current database refers to.
macro_rules! referenced_roles {
    () => {
        "SELECT s.refobjid FROM pg_shdepend s
         WHERE s.refclassid = 'pg_authid'::regclass
           AND (s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                OR (s.dbid = 0 AND s.classid = 'pg_database'::regclass
                    AND s.objid = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())))"
    };
}

/// Attributes of one role, as `pg_roles` shows them.
#[derive(sqlx::FromRow)]
struct RoleRow {
    name: String,
    superuser: bool,
    inherit: bool,
    createrole: bool,
    createdb: bool,
    login: bool,
    replication: bool,
    bypassrls: bool,
    connection_limit: i32,
    expires: bool,
}

/// Describes the current database's owner and grants, then each role it refers to.
///
/// Needs only catalog access that every role has (`pg_database`, `pg_shdepend`, `pg_roles`,
/// `pg_auth_members`), so the read-only auditor role can run it.
pub async fn describe_database_access(
    connection: &mut PgConnection,
) -> Result<String, sqlx::Error> {
    let mut out = String::new();
    describe_database(connection, &mut out).await?;
    describe_roles(connection, &mut out).await?;
    Ok(out)
}

async fn describe_database(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    let (owner,): (String,) = sqlx::query_as(
        "SELECT quote_ident(pg_get_userbyid(datdba)) FROM pg_database
         WHERE datname = current_database()",
    )
    .fetch_one(&mut *connection)
    .await?;

    // A NULL datacl means the built-in default: the owner has everything, PUBLIC has CONNECT
    // and TEMPORARY.
    let rows: Vec<(String, String, bool)> = sqlx::query_as(concat!(
        "SELECT ",
        grantee!("g"),
        ", g.privilege_type, g.is_grantable
         FROM pg_database d,
              LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) g
         WHERE d.datname = current_database()"
    ))
    .fetch_all(&mut *connection)
    .await?;

    writeln!(out, "{DATABASE_HEADER}").unwrap();
    writeln!(out, "  owner {}", single_line(owner)).unwrap();
    render_grants(&collect_grants(rows), "  ", out);
    Ok(())
}

async fn describe_roles(
    connection: &mut PgConnection,
    out: &mut String,
) -> Result<(), sqlx::Error> {
    // rolvaliduntil 'infinity' is what `VALID UNTIL 'infinity'` stores to remove an expiry, so
    // it counts as no expiry, like NULL.
    let roles: Vec<RoleRow> = sqlx::query_as(concat!(
        "SELECT quote_ident(r.rolname) AS name, r.rolsuper AS superuser,
                r.rolinherit AS inherit, r.rolcreaterole AS createrole,
                r.rolcreatedb AS createdb, r.rolcanlogin AS login,
                r.rolreplication AS replication, r.rolbypassrls AS bypassrls,
                r.rolconnlimit AS connection_limit,
                (r.rolvaliduntil IS NOT NULL AND r.rolvaliduntil <> 'infinity') AS expires
         FROM pg_roles r
         WHERE r.oid IN (",
        referenced_roles!(),
        ")"
    ))
    .fetch_all(&mut *connection)
    .await?;

    // One row per (role, member) pair: PostgreSQL 16 can record the same pair once per grantor.
    let memberships: Vec<(String, String, bool)> = sqlx::query_as(concat!(
        "SELECT quote_ident(pg_get_userbyid(m.roleid)), quote_ident(pg_get_userbyid(m.member)),
                bool_or(m.admin_option)
         FROM pg_auth_members m
         WHERE m.roleid IN (",
        referenced_roles!(),
        ") OR m.member IN (",
        referenced_roles!(),
        ")
         GROUP BY m.roleid, m.member"
    ))
    .fetch_all(&mut *connection)
    .await?;

    let mut parts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for role in &roles {
        parts.insert(single_line(role.name.clone()), BTreeSet::new());
    }
    for (group, member, admin) in memberships {
        let group = single_line(group);
        let member = single_line(member);
        let admin = if admin { " with admin option" } else { "" };
        if let Some(lines) = parts.get_mut(&member) {
            lines.insert(format!("member of {group}{admin}"));
        }
        if let Some(lines) = parts.get_mut(&group) {
            lines.insert(format!("has member {member}{admin}"));
        }
    }

    let mut roles = roles;
    roles.sort_by(|left, right| left.name.cmp(&right.name));
    for role in roles {
        let name = single_line(role.name.clone());
        writeln!(out, "role {name}").unwrap();
        for line in attribute_lines(&role) {
            writeln!(out, "  {line}").unwrap();
        }
        for line in parts.remove(&name).unwrap_or_default() {
            writeln!(out, "  {line}").unwrap();
        }
    }
    Ok(())
}

/// Returns one `attribute NAME: VALUE` line per attribute, so that a changed attribute is one
/// difference that names it.
fn attribute_lines(role: &RoleRow) -> Vec<String> {
    let connection_limit = if role.connection_limit < 0 {
        "unlimited".to_owned()
    } else {
        role.connection_limit.to_string()
    };
    let valid_until = if role.expires { "set" } else { "not set" };
    vec![
        format!("attribute superuser: {}", role.superuser),
        format!("attribute createrole: {}", role.createrole),
        format!("attribute createdb: {}", role.createdb),
        format!("attribute replication: {}", role.replication),
        format!("attribute bypassrls: {}", role.bypassrls),
        format!("attribute login: {}", role.login),
        format!("attribute inherit: {}", role.inherit),
        format!("attribute connection limit: {connection_limit}"),
        format!("attribute valid until: {valid_until}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_role() -> RoleRow {
        RoleRow {
            name: "lv_app".to_owned(),
            superuser: false,
            inherit: true,
            createrole: false,
            createdb: false,
            login: true,
            replication: false,
            bypassrls: false,
            connection_limit: -1,
            expires: false,
        }
    }

    #[test]
    fn attributes_of_a_login_role() {
        let lines = attribute_lines(&app_role());

        assert!(
            lines.contains(&"attribute superuser: false".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"attribute login: true".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"attribute connection limit: unlimited".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"attribute valid until: not set".to_owned()),
            "{lines:?}"
        );
    }

    #[test]
    fn limit_and_expiry_are_shown() {
        let role = RoleRow {
            connection_limit: 5,
            expires: true,
            ..app_role()
        };

        let lines = attribute_lines(&role);

        assert!(
            lines.contains(&"attribute connection limit: 5".to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"attribute valid until: set".to_owned()),
            "{lines:?}"
        );
    }
}
