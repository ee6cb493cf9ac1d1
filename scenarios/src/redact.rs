//! Redaction of error text before it becomes a finding.

use harness::deployment::Deployment;

/// Removes the deployment's passwords (the four roles' and the retired ones) from `text`, and
/// every secret that
/// matches a pattern of [`harness::redact`] (URL userinfo, `password=` pairs,
/// SCRAM verifiers).
pub fn redact(deployment: &Deployment, text: &str) -> String {
    let mut passwords: Vec<String> = [
        &deployment.superuser,
        &deployment.migrator,
        &deployment.app,
        &deployment.auditor,
    ]
    .iter()
    .map(|credentials| credentials.password.expose().to_owned())
    .collect();
    passwords.extend(
        deployment
            .retired
            .all()
            .into_iter()
            .map(|credentials| credentials.password.expose().to_owned()),
    );
    passwords.retain(|password| !password.is_empty());

    harness::redact::redact_with(&passwords, text)
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
            responses: Default::default(),
            retired: Default::default(),
        }
    }

    #[test]
    fn redact_removes_every_password() {
        let text = "super-secret-1 migrator-secret-2 app-secret-3 auditor-secret-4";

        let redacted = redact(&deployment(), text);

        assert_eq!(redacted, "[redacted] [redacted] [redacted] [redacted]");
    }

    #[test]
    fn redact_removes_url_password() {
        let text = "failed to connect to postgres://lv_app:hunter2@db:5432/x: refused";

        let redacted = redact(&deployment(), text);

        assert_eq!(
            redacted,
            "failed to connect to postgres://lv_app:[redacted]@db:5432/x: refused"
        );
    }

    #[test]
    fn redact_keeps_plain_text() {
        let text = "relation \"videos\" does not exist";

        let redacted = redact(&deployment(), text);

        assert_eq!(redacted, text);
    }
}
