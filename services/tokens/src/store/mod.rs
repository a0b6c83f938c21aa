//! Diesel queries and transactions, one module per table group. Stores return
//! [`StoreError`]; they know nothing of gRPC.

pub mod authorizations;
pub mod credentials;
pub mod grants;
pub mod issued;
pub mod providers;
pub mod session_lock;
pub mod tokens;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::{ApiError, StoreError};

/// The error of a transaction that mixes store calls and domain checks: it rolls back on
/// any of them and surfaces as the [`ApiError`] inside.
#[derive(Debug)]
pub struct TxError(pub ApiError);

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        TxError(StoreError::from(error).into())
    }
}

impl From<StoreError> for TxError {
    fn from(error: StoreError) -> Self {
        TxError(error.into())
    }
}

impl From<ApiError> for TxError {
    fn from(error: ApiError) -> Self {
        TxError(error)
    }
}

impl From<TxError> for ApiError {
    fn from(error: TxError) -> Self {
        error.0
    }
}

/// Serialises transactions that share `key` until they end (a PostgreSQL advisory lock
/// held for the rest of the transaction).
pub async fn lock(conn: &mut AsyncPgConnection, key: &str) -> Result<(), StoreError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)
        .await
        .map_err(lock_error)?;
    Ok(())
}

/// Bounds how long this transaction waits for any lock.
pub async fn set_lock_timeout(
    conn: &mut AsyncPgConnection,
    timeout: std::time::Duration,
) -> Result<(), StoreError> {
    // PostgreSQL takes at most i32::MAX milliseconds; zero would mean no limit.
    diesel::sql_query(format!(
        "SET LOCAL lock_timeout = {}",
        timeout.as_millis().clamp(1, i32::MAX as u128)
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// `lock_not_available` (a lock timeout) means someone else holds the lock for too long:
/// unavailable for now, not our fault.
fn lock_error(error: diesel::result::Error) -> StoreError {
    // Matched on PostgreSQL's message: diesel-async keeps the SQLSTATE (55P03) behind a
    // private type, and diesel's DatabaseErrorInformation does not expose it.
    if let diesel::result::Error::DatabaseError(_, info) = &error
        && info.message().contains("lock timeout")
    {
        return StoreError::Unavailable("waited too long for a lock".into());
    }
    error.into()
}
