//! SECURITY DEFINER functions and procedures that the app role may call. Such a routine runs
//! with its owner's privileges, so a routine owned by the schema owner that runs `EXECUTE q` or
//! `TRUNCATE` hands the app role that owner's DDL. PostgreSQL grants EXECUTE on every new
//! routine to PUBLIC unless default privileges (ALTER DEFAULT PRIVILEGES) revoke it.
//!
//! SECURITY INVOKER routines are not flagged: they run with the caller's own privileges, so
//! executing one gives the app role nothing that the other findings do not already cover.

use sqlx::postgres::PgConnection;

use super::revoke_hint;

/// Flags every SECURITY DEFINER function or procedure in a non-system schema of the app
/// database that is owned by another role and that `role` can execute, directly, through
/// PUBLIC or through a membership. Routines that `role` owns are left to the ownership finding.
pub(super) async fn flag(
    connection: &mut PgConnection,
    role: &str,
    database: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    // Schema names starting with pg_ are reserved (pg_catalog, pg_toast, the pg_temp_N schemas).
    // A NULL proacl is the built-in default, which acldefault returns: EXECUTE for PUBLIC and
    // the owner. proargtypes lists the argument types that identify the routine, which REVOKE
    // and ALTER accept without the argument names.
    let rows: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, \
                                  pg_catalog.oidvectortypes(p.proargtypes)), \
                CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(p.proowner)), \
                ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                                  ELSE pg_catalog.quote_ident( \
                                      pg_catalog.pg_get_userbyid(a.grantee)) END \
                      FROM pg_catalog.aclexplode(coalesce( \
                               p.proacl, pg_catalog.acldefault('f', p.proowner))) a \
                      WHERE a.privilege_type = 'EXECUTE' \
                        AND (a.grantee = 0 OR a.grantee = r.oid) \
                      ORDER BY a.grantee) \
         FROM pg_catalog.pg_proc p \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_catalog.pg_roles r ON r.rolname = $1 \
         WHERE p.prosecdef \
           AND p.proowner <> r.oid \
           AND n.nspname <> 'information_schema' \
           AND n.nspname NOT LIKE 'pg\\_%' \
           AND pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE') \
         ORDER BY 1",
    )
    .bind(role)
    .fetch_all(&mut *connection)
    .await?;

    for (routine, kind, owner, grantees) in rows {
        let grantee = if grantees.is_empty() {
            None
        } else {
            Some(grantees.join(", "))
        };
        findings.push(format!(
            "role {role} can execute SECURITY DEFINER {} {routine} in database {database}, which \
             runs with the privileges of its owner {owner}; {}, or make it run with the caller's \
             privileges with `ALTER {kind} {routine} SECURITY INVOKER`",
            kind.to_lowercase(),
            revoke_hint(&grantee, &format!("EXECUTE ON {kind} {routine}"), role)
        ));
    }
    Ok(())
}
