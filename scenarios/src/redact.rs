//! Redaction of error text before it becomes a finding.

use std::sync::LazyLock;

use harness::deployment::Deployment;
use regex::Regex;

/// Connection URLs (`postgres://user:password@host/db`) and libpq-style
/// `password=...` pairs.
static CONNECTION_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(postgres(?:ql)?://\S+|password\s*=\s*\S+)")
        .expect("connection secret pattern should compile")
});

/// Removes the deployment's passwords and any connection string from `text`.
///
/// NOTE: this replaces only the four passwords of the deployment and the two
/// connection string formats above; a secret of another form passes through.
pub fn redact(deployment: &Deployment, text: &str) -> String {
    let mut redacted = CONNECTION_SECRET
        .replace_all(text, "[redacted connection string]")
        .into_owned();

    let credentials = [
        &deployment.superuser,
        &deployment.migrator,
        &deployment.app,
        &deployment.auditor,
    ];
    for credentials in credentials {
        let password = credentials.password.expose();
        if !password.is_empty() {
            redacted = redacted.replace(password, "[redacted]");
        }
    }

    redacted
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use harness::deployment::Credentials;
    use harness::secret::Secret;

    use super::*;

    fn deployment() -> Deployment {
        let credentials = |role: &str, password: &str| Credentials {
            role: role.to_owned(),
            password: Secret::new(password),
        };
        Deployment {
            app_url: "http://127.0.0.1:1".to_owned(),
            postgres_host: "127.0.0.1".to_owned(),
            postgres_port: 1,
            superuser: credentials("postgres", "super-secret-1"),
            migrator: credentials("lv_migrator", "migrator-secret-2"),
            app: credentials("lv_app", "app-secret-3"),
            auditor: credentials("lv_auditor", "auditor-secret-4"),
            migrations_dir: PathBuf::from("migrations"),
        }
    }

    #[test]
    fn redact_removes_every_password() {
        let text = "super-secret-1 migrator-secret-2 app-secret-3 auditor-secret-4";

        let redacted = redact(&deployment(), text);

        assert_eq!(redacted, "[redacted] [redacted] [redacted] [redacted]");
    }

    #[test]
    fn redact_removes_connection_urls() {
        let text = "failed to connect to postgres://lv_app:hunter2@db:5432/x: refused";

        let redacted = redact(&deployment(), text);

        assert_eq!(
            redacted,
            "failed to connect to [redacted connection string] refused"
        );
    }

    #[test]
    fn redact_removes_password_pairs() {
        let text = "host=db user=lv_app password=hunter2 dbname=x";

        let redacted = redact(&deployment(), text);

        assert_eq!(
            redacted,
            "host=db user=lv_app [redacted connection string] dbname=x"
        );
    }

    #[test]
    fn redact_keeps_plain_text() {
        let text = "relation \"videos\" does not exist";

        let redacted = redact(&deployment(), text);

        assert_eq!(redacted, text);
    }
}
