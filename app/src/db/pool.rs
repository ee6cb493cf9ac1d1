//! The connection pool.

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::{ConfigError, DatabaseConfig, PoolConfig};

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Database {
    pub(super) pool: PgPool,
}

impl Database {
    /// Creates the pool without connecting. Connections open on first use,
    /// so the app starts while Postgres is down and recovers on its own when
    /// it comes back: each request tries to open a connection within
    /// `acquire_timeout`.
    pub fn connect_lazy(database: &DatabaseConfig, pool: &PoolConfig) -> Result<Self, ConfigError> {
        let options = database.connect_options(pool)?;
        let pool_options = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout);
        #[cfg(feature = "failpoints")]
        let pool_options = pool_options.after_connect(|_connection, _metadata| {
            Box::pin(async { crate::faults::reject_new_connection() })
        });
        let pool_handle = pool_options.connect_lazy_with(options);
        Ok(Self { pool: pool_handle })
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
