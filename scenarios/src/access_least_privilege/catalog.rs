//! The catalog half of `access.least_privilege`: role attributes, memberships, ownership and
//! the ACLs of databases, schemas, tables and the server-file functions, read as the superuser.
//!
//! Grants are read with `aclexplode`, which lists each grantee of an ACL, so that a finding can
//! show whether the app role itself or PUBLIC has the privilege, and the REVOKE names that
//! grantee. A NULL ACL means the built-in default, which `acldefault` returns
//! (PostgreSQL 15 gives PUBLIC CONNECT and TEMPORARY on every new database this way).

use sqlx::postgres::PgConnection;

/// Predefined roles that let a member read or write server files or run server programs.
const SERVER_ACCESS_ROLES: &[&str] = &[
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_data",
    "pg_write_all_data",
];

/// Functions that read the server's files or directories. PostgreSQL 15 revokes EXECUTE on all
/// of them from PUBLIC.
const SERVER_FILE_FUNCTIONS: &[&str] = &[
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "lo_import",
    "lo_export",
];

/// Database that the image's initdb creates for maintenance. The app never connects to it.
const MAINTENANCE_DATABASE: &str = "postgres";

/// Findings of the catalog queries.
pub struct CatalogReport {
    /// One line per excess privilege, each with the statement that removes it.
    pub findings: Vec<String>,
    /// Number of databases that accept connections, whose ACLs were read.
    pub databases: usize,
}

/// Reads the catalogs for `role` through `connection`, a superuser session on `database` (the
/// app database). `owner` is the role that should own what `role` owns.
pub async fn inspect(
    connection: &mut PgConnection,
    role: &str,
    owner: &str,
    database: &str,
) -> Result<CatalogReport, sqlx::Error> {
    let mut findings = Vec::new();

    let superuser = attributes(connection, role, &mut findings).await?;
    memberships(connection, role, &mut findings).await?;
    ownership(connection, role, owner, &mut findings).await?;
    let databases = database_grants(connection, role, database, &mut findings).await?;
    schema_grants(connection, role, database, &mut findings).await?;
    table_grants(connection, role, database, &mut findings).await?;
    default_grants(connection, role, database, &mut findings).await?;

    // A superuser passes every privilege test, so these would only repeat its finding.
    if !superuser {
        server_files(connection, role, &mut findings).await?;
    }
    Ok(CatalogReport {
        findings,
        databases,
    })
}

/// Flags SUPERUSER, CREATEROLE, CREATEDB, REPLICATION and BYPASSRLS, and returns whether the
/// role is a superuser. A missing role is a finding too, because then nothing else applies.
async fn attributes(
    connection: &mut PgConnection,
    role: &str,
    findings: &mut Vec<String>,
) -> Result<bool, sqlx::Error> {
    let row: Option<(bool, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls \
         FROM pg_catalog.pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((superuser, create_role, create_db, replication, bypass_rls)) = row else {
        findings.push(format!(
            "role {role} does not exist, so its privileges cannot be checked; bootstrap the \
             database before this check"
        ));
        return Ok(false);
    };

    let attributes = [
        (superuser, "SUPERUSER", "NOSUPERUSER"),
        (create_role, "CREATEROLE", "NOCREATEROLE"),
        (create_db, "CREATEDB", "NOCREATEDB"),
        (replication, "REPLICATION", "NOREPLICATION"),
        (bypass_rls, "BYPASSRLS", "NOBYPASSRLS"),
    ];
    for (held, attribute, negation) in attributes {
        if held {
            findings.push(format!(
                "role {role} has {attribute}; remove it with `ALTER ROLE {role} {negation}`"
            ));
        }
    }
    Ok(superuser)
}

/// Flags every role that `role` is a direct member of, and names the server-access roles that
/// the membership grants, directly or through nested roles.
async fn memberships(
    connection: &mut PgConnection,
    role: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let sensitive: Vec<String> = SERVER_ACCESS_ROLES
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT pg_catalog.quote_ident(g.rolname), \
                ARRAY(SELECT s.rolname::text FROM pg_catalog.pg_roles s \
                      WHERE s.rolname = ANY($2) \
                        AND pg_catalog.pg_has_role(g.oid, s.oid, 'MEMBER') \
                      ORDER BY 1) \
         FROM pg_catalog.pg_auth_members m \
         JOIN pg_catalog.pg_roles g ON g.oid = m.roleid \
         JOIN pg_catalog.pg_roles r ON r.oid = m.member \
         WHERE r.rolname = $1 \
         ORDER BY 1",
    )
    .bind(role)
    .bind(&sensitive)
    .fetch_all(&mut *connection)
    .await?;

    for (group, reached) in rows {
        let grants = if reached.is_empty() {
            String::new()
        } else {
            format!(" (which grants {})", reached.join(", "))
        };
        findings.push(format!(
            "role {role} is a member of role {group}{grants}; remove it with \
             `REVOKE {group} FROM {role}`"
        ));
    }
    Ok(())
}

/// Flags every object `role` owns, in any database. `pg_shdepend` records the owner of every
/// object not owned by the bootstrap superuser, across all databases of the server.
async fn ownership(
    connection: &mut PgConnection,
    role: &str,
    owner: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    // pg_describe_object resolves only objects of the current database and shared objects.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT coalesce(d.datname::text, '(shared)'), \
                CASE WHEN sd.dbid = 0 OR d.datname = pg_catalog.current_database() \
                     THEN pg_catalog.pg_describe_object(sd.classid, sd.objid, sd.objsubid) \
                     ELSE sd.classid::pg_catalog.regclass::text || ' with oid ' || sd.objid \
                END \
         FROM pg_catalog.pg_shdepend sd \
         LEFT JOIN pg_catalog.pg_database d ON d.oid = sd.dbid \
         WHERE sd.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass \
           AND sd.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
           AND sd.deptype = 'o' \
         ORDER BY 1, 2",
    )
    .bind(role)
    .fetch_all(&mut *connection)
    .await?;

    for (database, object) in rows {
        findings.push(format!(
            "role {role} owns {object} in database {database}, and an owner may alter or drop \
             it; hand it over with `REASSIGN OWNED BY {role} TO {owner}` in that database"
        ));
    }
    Ok(())
}

/// Flags CREATE and TEMPORARY of `role` on any database, its CONNECT on the maintenance and
/// template databases, and any privilege of PUBLIC on a database that accepts connections.
/// Returns the number of such databases.
async fn database_grants(
    connection: &mut PgConnection,
    role: &str,
    app_database: &str,
    findings: &mut Vec<String>,
) -> Result<usize, sqlx::Error> {
    let databases: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_catalog.pg_database WHERE datallowconn")
            .fetch_one(&mut *connection)
            .await?;

    let rows: Vec<(String, String, bool, String)> = sqlx::query_as(
        "SELECT pg_catalog.quote_ident(d.datname), \
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, \
                d.datistemplate OR d.datname = $2, \
                a.privilege_type \
         FROM pg_catalog.pg_database d, \
              LATERAL pg_catalog.aclexplode( \
                  coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a \
         WHERE d.datallowconn \
           AND (a.grantee = 0 \
                OR a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)) \
         ORDER BY 1, 2, 4",
    )
    .bind(role)
    .bind(MAINTENANCE_DATABASE)
    .fetch_all(&mut *connection)
    .await?;

    for (database, grantee, not_for_apps, privilege) in rows {
        let excess = if grantee == "PUBLIC" {
            true
        } else {
            privilege != "CONNECT" || not_for_apps
        };
        if !excess {
            continue;
        }
        let holder = if grantee == "PUBLIC" {
            format!("PUBLIC has {privilege} on database {database}, so role {role} has it too")
        } else {
            format!("role {role} has {privilege} on database {database}")
        };
        let scope = if database == app_database {
            ""
        } else {
            " (not the app database)"
        };
        findings.push(format!(
            "{holder}{scope}; revoke it with `REVOKE {privilege} ON DATABASE {database} FROM \
             {grantee}`"
        ));
    }
    Ok(usize::try_from(databases).unwrap_or_default())
}

/// Flags CREATE of `role` or PUBLIC on any schema of the app database, which the superuser's
/// connection is on.
async fn schema_grants(
    connection: &mut PgConnection,
    role: &str,
    database: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT pg_catalog.quote_ident(n.nspname), \
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END \
         FROM pg_catalog.pg_namespace n, \
              LATERAL pg_catalog.aclexplode( \
                  coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a \
         WHERE a.privilege_type = 'CREATE' \
           AND (a.grantee = 0 \
                OR a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)) \
         ORDER BY 1, 2",
    )
    .bind(role)
    .fetch_all(&mut *connection)
    .await?;

    for (schema, grantee) in rows {
        let holder = if grantee == "PUBLIC" {
            format!("PUBLIC has CREATE on schema {schema}, so role {role} has it too")
        } else {
            format!("role {role} has CREATE on schema {schema}")
        };
        findings.push(format!(
            "{holder} in database {database}, which allows DDL; revoke it with `REVOKE CREATE \
             ON SCHEMA {schema} FROM {grantee}`"
        ));
    }
    Ok(())
}

/// Flags TRUNCATE, REFERENCES and TRIGGER of `role` on any table or view, and any privilege
/// of PUBLIC, in the app database. A NULL ACL grants only the owner, so it is skipped.
async fn table_grants(
    connection: &mut PgConnection,
    role: &str,
    database: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, \
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, \
                a.privilege_type \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, \
              LATERAL pg_catalog.aclexplode(c.relacl) a \
         WHERE c.relacl IS NOT NULL \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' \
           AND (a.grantee = 0 \
                OR (a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
                    AND a.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER'))) \
         ORDER BY 1, 3, 4",
    )
    .bind(role)
    .fetch_all(&mut *connection)
    .await?;

    for (relation, kind, grantee, privilege) in rows {
        let holder = if grantee == "PUBLIC" {
            format!("PUBLIC has {privilege} on {relation}, so role {role} has it too")
        } else {
            format!("role {role} has {privilege} on {relation}")
        };
        findings.push(format!(
            "{holder} in database {database}; revoke it with `REVOKE {privilege} ON {kind} \
             {relation} FROM {grantee}`"
        ));
    }
    Ok(())
}

/// Flags default privileges (ALTER DEFAULT PRIVILEGES) in the app database that would give
/// future tables or sequences the grants [`table_grants`] flags: TRUNCATE, REFERENCES or
/// TRIGGER to `role`, or anything to PUBLIC.
async fn default_grants(
    connection: &mut PgConnection,
    role: &str,
    database: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, Option<String>, String, String, String)> = sqlx::query_as(
        "SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.defaclrole)), \
                pg_catalog.quote_ident(n.nspname), \
                CASE WHEN d.defaclobjtype = 'S' THEN 'SEQUENCES' ELSE 'TABLES' END, \
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, \
                a.privilege_type \
         FROM pg_catalog.pg_default_acl d \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace, \
              LATERAL pg_catalog.aclexplode(d.defaclacl) a \
         WHERE d.defaclobjtype IN ('r', 'S') \
           AND (a.grantee = 0 \
                OR (a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
                    AND a.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER'))) \
         ORDER BY 1, 2, 3, 4, 5",
    )
    .bind(role)
    .fetch_all(&mut *connection)
    .await?;

    for (creator, schema, kind, grantee, privilege) in rows {
        let scope = match &schema {
            Some(schema) => format!(" IN SCHEMA {schema}"),
            None => String::new(),
        };
        findings.push(format!(
            "default privileges of role {creator}{scope} in database {database} give {grantee} \
             {privilege} on every new {}; revoke it with `ALTER DEFAULT PRIVILEGES FOR ROLE \
             {creator}{scope} REVOKE {privilege} ON {kind} FROM {grantee}`",
            kind.to_lowercase().trim_end_matches('s')
        ));
    }
    Ok(())
}

/// Flags SELECT on pg_authid (the password verifiers) and EXECUTE on the server-file
/// functions, however the role got them: directly, through PUBLIC, or through a membership.
async fn server_files(
    connection: &mut PgConnection,
    role: &str,
    findings: &mut Vec<String>,
) -> Result<(), sqlx::Error> {
    let reads_authid: bool = sqlx::query_scalar(
        "SELECT pg_catalog.has_table_privilege($1, 'pg_catalog.pg_authid', 'SELECT')",
    )
    .bind(role)
    .fetch_one(&mut *connection)
    .await?;
    if reads_authid {
        let grantee = direct_grantee(
            connection,
            role,
            "pg_catalog.pg_class",
            "relacl",
            "'pg_catalog.pg_authid'::pg_catalog.regclass",
        )
        .await?;
        findings.push(format!(
            "role {role} can read pg_catalog.pg_authid, which stores the password verifiers; \
             {}",
            revoke_hint(&grantee, "SELECT ON pg_catalog.pg_authid", role)
        ));
    }

    let functions: Vec<String> = SERVER_FILE_FUNCTIONS
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT p.oid::pg_catalog.regprocedure::text, \
                (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                             ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) \
                        END \
                 FROM pg_catalog.aclexplode(p.proacl) a \
                 WHERE a.grantee = 0 \
                    OR a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1) \
                 ORDER BY a.grantee DESC LIMIT 1) \
         FROM pg_catalog.pg_proc p \
         WHERE p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace \
           AND p.proname = ANY($2) \
           AND pg_catalog.has_function_privilege($1, p.oid, 'EXECUTE') \
         ORDER BY 1",
    )
    .bind(role)
    .bind(&functions)
    .fetch_all(&mut *connection)
    .await?;
    for (function, grantee) in rows {
        findings.push(format!(
            "role {role} can execute {function}, which reads the server's files; {}",
            revoke_hint(&grantee, &format!("EXECUTE ON FUNCTION {function}"), role)
        ));
    }
    Ok(())
}

/// Returns the direct grantee of a privilege on one catalog row: the role (preferred) or
/// PUBLIC, or `None` when the privilege comes only through a membership.
async fn direct_grantee(
    connection: &mut PgConnection,
    role: &str,
    catalog: &'static str,
    acl_column: &'static str,
    oid: &'static str,
) -> Result<Option<String>, sqlx::Error> {
    let query = format!(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END \
         FROM {catalog} c, LATERAL pg_catalog.aclexplode(c.{acl_column}) a \
         WHERE c.oid = {oid} \
           AND (a.grantee = 0 \
                OR a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)) \
         ORDER BY a.grantee DESC LIMIT 1"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .bind(role)
        .fetch_optional(&mut *connection)
        .await
}

/// Words the fix: a REVOKE from the direct grantee, or a pointer to the membership finding.
fn revoke_hint(grantee: &Option<String>, privilege: &str, role: &str) -> String {
    match grantee {
        Some(grantee) => format!("revoke it with `REVOKE {privilege} FROM {grantee}`"),
        None => format!(
            "role {role} holds it through a role membership, which the membership finding names"
        ),
    }
}
