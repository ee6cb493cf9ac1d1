//! The behavioural half of `access.least_privilege`: statements that the app role must not be
//! able to run, each sent in a transaction that is rolled back, and a connection to the
//! maintenance database. Each must fail with SQLSTATE 42501 (insufficient_privilege).

use harness::deployment::{DATABASE, Deployment};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

use crate::redact::redact;

/// SQLSTATE of insufficient_privilege.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// Database that the image's initdb creates for maintenance, which the app never needs.
const MAINTENANCE_DATABASE: &str = "postgres";

/// One statement the app role must not be able to run.
struct Probe {
    /// Action that a success would allow the role, for the finding.
    action: &'static str,
    /// The statement, sent inside a transaction that is rolled back.
    statement: &'static str,
}

/// The probes. `COPY ... TO PROGRAM` runs `true`, which does nothing, if the role may run it.
const PROBES: &[Probe] = &[
    Probe {
        action: "create a table in schema public",
        statement: "CREATE TABLE public.least_privilege_probe (id integer)",
    },
    Probe {
        action: "create a schema",
        statement: "CREATE SCHEMA least_privilege_probe",
    },
    Probe {
        action: "create a temporary table",
        statement: "CREATE TEMPORARY TABLE least_privilege_probe (id integer)",
    },
    Probe {
        action: "read the password verifiers in pg_authid",
        statement: "SELECT rolpassword FROM pg_catalog.pg_authid LIMIT 1",
    },
    Probe {
        action: "read a server file",
        statement: "SELECT pg_catalog.pg_read_file('PG_VERSION')",
    },
    Probe {
        action: "run a server program",
        statement: "COPY (SELECT 1) TO PROGRAM 'true'",
    },
];

/// Outcome of the probes.
pub struct ProbeReport {
    /// One line per probe that was not rejected for lack of privilege.
    pub findings: Vec<String>,
    /// Number of probes rejected with 42501.
    pub rejected: usize,
}

/// Runs every probe as the app role. An error means that the probes could not run, such as a
/// failed connection to the app database.
pub async fn run(deployment: &Deployment) -> Result<ProbeReport, sqlx::Error> {
    let role = &deployment.app.role;
    let mut report = ProbeReport {
        findings: Vec::new(),
        rejected: 0,
    };

    let options = deployment
        .connect_options_to(&deployment.app, DATABASE)
        .disable_statement_logging();
    let mut connection = PgConnection::connect_with(&options).await?;
    for probe in PROBES {
        let mut transaction = connection.begin().await?;
        let outcome = sqlx::raw_sql(probe.statement)
            .execute(&mut *transaction)
            .await;
        transaction.rollback().await?;
        judge(
            deployment,
            &format!("`{}`", probe.statement),
            probe.action,
            outcome.map(|_| ()),
            &mut report,
        )?;
    }
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing the app role's probe connection failed");
    }

    let maintenance = deployment
        .connect_options_to(&deployment.app, MAINTENANCE_DATABASE)
        .disable_statement_logging();
    let outcome = match PgConnection::connect_with(&maintenance).await {
        Ok(connection) => {
            connection.close().await.ok();
            Ok(())
        }
        Err(error) => Err(error),
    };
    judge(
        deployment,
        &format!("a connection to database {MAINTENANCE_DATABASE}"),
        &format!("connect to database {MAINTENANCE_DATABASE}"),
        outcome,
        &mut report,
    )?;

    tracing::debug!(
        %role,
        rejected = report.rejected,
        findings = report.findings.len(),
        "least-privilege probes finished"
    );
    Ok(report)
}

/// Records the outcome of one probe. A database error other than 42501 is a finding, because
/// the privilege check passed before the statement failed for another reason. Any other error
/// is returned: the probe did not reach a verdict.
fn judge(
    deployment: &Deployment,
    attempt: &str,
    action: &str,
    outcome: Result<(), sqlx::Error>,
    report: &mut ProbeReport,
) -> Result<(), sqlx::Error> {
    let role = &deployment.app.role;
    match outcome {
        Ok(()) => report.findings.push(format!(
            "role {role} could {action}: {attempt} succeeded (rolled back), but must fail with \
             SQLSTATE {INSUFFICIENT_PRIVILEGE}"
        )),
        Err(sqlx::Error::Database(error)) => {
            let code = error.code().unwrap_or_default().into_owned();
            if code == INSUFFICIENT_PRIVILEGE {
                report.rejected += 1;
            } else {
                report.findings.push(format!(
                    "role {role} passed the privilege check to {action}: {attempt} failed with \
                     SQLSTATE {code} ({}) instead of {INSUFFICIENT_PRIVILEGE}",
                    redact(deployment, error.message())
                ));
            }
        }
        Err(error) => return Err(error),
    }
    Ok(())
}
