//! One driver per import at a time, across every replica.
//!
//! The lock is a session-level PostgreSQL advisory lock held by a connection of its own, not
//! one of the pool: when the process dies (a crash, a kill, the test-only fault injection) the
//! connection closes and PostgreSQL releases the lock at once, so the next replica or the
//! restarted process can resume the import without waiting for a lease to expire.

use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Held while an import is being driven; dropping it closes its connection and so
/// releases the lock.
pub struct SagaLock {
    _conn: AsyncPgConnection,
}

fn key(import: Uuid) -> String {
    format!("imports.saga/{import}")
}

impl SagaLock {
    /// The lock when nobody holds it; `None` when another driver does.
    pub async fn try_acquire(database_url: &str, import: Uuid) -> Result<Option<Self>, StoreError> {
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let locked: Locked =
            diesel::sql_query("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked")
                .bind::<Text, _>(key(import))
                .get_result(&mut conn)
                .await?;
        Ok(locked.locked.then_some(SagaLock { _conn: conn }))
    }

    /// The lock, waiting up to `wait` for the driver that holds it to finish.
    pub async fn acquire(
        database_url: &str,
        import: Uuid,
        wait: Duration,
    ) -> Result<Option<Self>, StoreError> {
        if wait.is_zero() {
            return Self::try_acquire(database_url, import).await;
        }
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        diesel::sql_query(format!("SET lock_timeout = {}", wait.as_millis().max(1)))
            .execute(&mut conn)
            .await?;
        match diesel::sql_query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(key(import))
            .execute(&mut conn)
            .await
        {
            Ok(_) => Ok(Some(SagaLock { _conn: conn })),
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("lock timeout") =>
            {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }
}
