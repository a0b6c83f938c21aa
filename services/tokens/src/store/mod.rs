//! Diesel queries and transactions, one module per table group. Stores return
//! [`StoreError`]; they know nothing of gRPC.

pub mod authorizations;
pub mod credentials;
pub mod grants;
pub mod issued;
pub mod providers;
pub mod schema;
pub mod tokens;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;

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

/// `lock_not_available` (a lock timeout) means someone else holds the lock for too long:
/// unavailable for now, not our fault.
fn lock_error(error: diesel::result::Error) -> StoreError {
    if trellis_platform::session_lock::is_lock_timeout(&error) {
        return StoreError::Unavailable("waited too long for a lock".into());
    }
    error.into()
}
