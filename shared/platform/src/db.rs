//! The database: a diesel-async connection pool and the service's embedded migrations.
//!
//! Each service embeds its `migrations/` folder ([`Schema`]) and applies it either with its
//! `migrate` subcommand (what the Kubernetes init container runs) or at start when
//! `TRELLIS_MIGRATE_AT_START=true`. Diesel records applied versions in
//! `__diesel_schema_migrations`, so running them again applies nothing. The tables every
//! service has (`request_ids`, see [`crate::idempotency`]) are the platform's own
//! migrations ([`PLATFORM_MIGRATIONS`]), applied first; their versions are the ones the
//! services carried before, so a database migrated then applies nothing new.
//!
//! Transactions: [`transaction`] runs a body whose error type is the caller's (a store's
//! [`StoreError`], a use case's [`crate::ApiError`]), commits on success and rolls back
//! otherwise; nested, it is a savepoint.

use diesel::migration::MigrationVersion;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl,
    TransactionManager,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

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

/// The tables every service has, applied before the service's own migrations.
pub const PLATFORM_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The source folder of [`PLATFORM_MIGRATIONS`] (the test kit hashes it with a service's).
pub const PLATFORM_MIGRATIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    Ok(Pool::builder(manager).max_size(max_size.max(1)).build()?)
}

/// Applies every pending migration, the platform's and then the service's; returns the
/// versions it applied.
pub async fn migrate(database_url: &str, schema: &Schema) -> anyhow::Result<Vec<String>> {
    let connection = AsyncPgConnection::establish(database_url).await?;
    let service = (schema.migrations)();
    // The harness drives Diesel's synchronous migration code, so it runs on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(connection);
        let mut applied = Vec::new();
        for migrations in [PLATFORM_MIGRATIONS, service] {
            let versions = harness
                .run_pending_migrations(migrations)
                .map_err(|error| anyhow::anyhow!("migration failed: {error}"))?;
            applied.extend(
                versions
                    .into_iter()
                    .map(|version: MigrationVersion<'_>| version.to_string()),
            );
        }
        Ok(applied)
    })
    .await?
}

/// A connection from the pool.
pub async fn connect(pool: &DbPool) -> Result<DbConn, StoreError> {
    Ok(pool.get().await?)
}

/// Runs `body` in a transaction (a savepoint when one is open already): committed when it
/// returns `Ok`, rolled back otherwise, so nothing is half-written.
pub async fn transaction<R, E, F>(conn: &mut AsyncPgConnection, body: F) -> Result<R, E>
where
    E: From<StoreError>,
    F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
{
    begin(conn).await?;
    let outcome = body(conn).await;
    finish(conn, outcome).await
}

type Manager = AnsiTransactionManager;

/// Opens a transaction (a savepoint when one is open already). [`transaction`] is the usual
/// way; this pair serves a body that cannot be one closure.
pub async fn begin(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    <Manager as TransactionManager<AsyncPgConnection>>::begin_transaction(conn).await?;
    Ok(())
}

/// Commits the transaction [`begin`] opened when `outcome` is a success, rolls it back
/// otherwise. A connection dropped between the two (a cancelled call) still has its
/// transaction open, which makes the pool discard it, and PostgreSQL rolls back.
pub async fn finish<R, E: From<StoreError>>(
    conn: &mut AsyncPgConnection,
    outcome: Result<R, E>,
) -> Result<R, E> {
    match outcome {
        Ok(value) => {
            <Manager as TransactionManager<AsyncPgConnection>>::commit_transaction(conn)
                .await
                .map_err(StoreError::from)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) =
                <Manager as TransactionManager<AsyncPgConnection>>::rollback_transaction(conn).await
            {
                tracing::warn!(error = %rollback, "rollback failed; the connection is discarded");
            }
            Err(error)
        }
    }
}

/// True when the database answers a trivial query; readiness follows it.
pub async fn ping(pool: &DbPool) -> Result<(), StoreError> {
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
