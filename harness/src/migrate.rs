//! Applies the migrations folder to the run's database as the migrator role, with sqlx's
//! migrator (used when the `migrations.replay` check, which migrates by itself, does not run).

use sqlx::migrate::Migrator;

use crate::deployment::Deployment;
use crate::error::{Error, Result};

/// Applies every pending migration in `deployment.migrations_dir` as lv_migrator and returns how
/// many migrations the folder holds.
pub async fn apply(deployment: &Deployment) -> Result<usize> {
    let dir = deployment.migrations_dir.clone();
    let failure = |source| Error::Migrate {
        dir: dir.clone(),
        source,
    };

    let migrator = Migrator::new(dir.as_path()).await.map_err(failure)?;
    let pool = deployment
        .pool(&deployment.migrator)
        .await
        .map_err(|error| failure(sqlx::migrate::MigrateError::Execute(error)))?;
    let result = migrator.run(&pool).await.map_err(failure);
    pool.close().await;
    result?;

    let count = migrator.iter().count();
    tracing::info!(migrations_dir = %dir.display(), count, "migrations applied");
    Ok(count)
}
