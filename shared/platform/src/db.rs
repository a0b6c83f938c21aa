//! The database: a diesel-async connection pool and the service's embedded migrations.
//!
//! Each service embeds its `migrations/` folder ([`Schema`]) and applies it either with its
//! `migrate` subcommand (what the Kubernetes init container runs) or at start when
//! `TRELLIS_MIGRATE_AT_START=true`. Diesel records applied versions in
//! `__diesel_schema_migrations`, so running them again applies nothing.

use diesel::migration::MigrationVersion;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::error::StoreError;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// A service's migrations.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub service: &'static str,
    /// Returns the embedded migrations (`|| MIGRATIONS` of an `embed_migrations!` const).
    pub migrations: fn() -> EmbeddedMigrations,
    /// The source folder of the migrations (`concat!(env!("CARGO_MANIFEST_DIR"),
    /// "/migrations")`); the test kit keys its template databases on a hash of its files.
    pub migrations_dir: &'static str,
}

pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    Ok(Pool::builder(manager).max_size(max_size.max(1)).build()?)
}

/// Applies every pending migration; returns the versions it applied.
pub async fn migrate(database_url: &str, schema: &Schema) -> anyhow::Result<Vec<String>> {
    let connection = AsyncPgConnection::establish(database_url).await?;
    let migrations = (schema.migrations)();
    // The harness drives Diesel's synchronous migration code, so it runs on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(connection);
        let applied = harness
            .run_pending_migrations(migrations)
            .map_err(|error| anyhow::anyhow!("migration failed: {error}"))?;
        Ok(applied
            .into_iter()
            .map(|version: MigrationVersion<'_>| version.to_string())
            .collect())
    })
    .await?
}

/// True when the database answers a trivial query; readiness follows it.
pub async fn ping(pool: &DbPool) -> Result<(), StoreError> {
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
