//! Diesel queries, one module per table group. Functions take a connection and return
//! [`StoreError`]; a use case that changes several rows runs them between [`begin`] and
//! [`finish`], so that nothing is half-written.

pub mod accounts;
pub mod assets;
pub mod company_properties;
pub mod dashboards;
pub mod data_sources;
pub mod embeds;
pub mod graph;
pub mod klips;
pub mod memberships;
pub mod properties;
pub mod schema;
pub mod variables;

use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiResult, StoreError};

type Manager = AnsiTransactionManager;

pub async fn connect(pool: &DbPool) -> ApiResult<DbConn> {
    Ok(pool.get().await.map_err(StoreError::from)?)
}

/// Opens a transaction (a savepoint when one is open already).
pub async fn begin(conn: &mut AsyncPgConnection) -> ApiResult<()> {
    <Manager as TransactionManager<AsyncPgConnection>>::begin_transaction(conn)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// Commits the transaction [`begin`] opened when `outcome` is a success, rolls it back
/// otherwise. A connection dropped between the two (a cancelled call) still has its
/// transaction open, which makes the pool discard it, and PostgreSQL rolls back.
pub async fn finish<R>(conn: &mut AsyncPgConnection, outcome: ApiResult<R>) -> ApiResult<R> {
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

/// A stored value that does not decode: our fault, reported as internal.
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Other(diesel::result::Error::DeserializationError(
        what.into().into(),
    ))
}
