//! Diesel queries and transactions, one module per table group. Stores return
//! [`StoreError`]; they know nothing of gRPC.

pub mod authorizations;
pub mod credentials;
pub mod grants;
pub mod issued;
pub mod providers;
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
    Ok(trellis_platform::session_lock::set_lock_timeout(conn, timeout).await?)
}

/// `lock_not_available` (a lock timeout) means someone else holds the lock for too long:
/// unavailable for now, not our fault.
fn lock_error(error: diesel::result::Error) -> StoreError {
    if trellis_platform::session_lock::is_lock_timeout(&error) {
        return StoreError::Unavailable("waited too long for a lock".into());
    }
    error.into()
}
