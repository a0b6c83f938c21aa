//! A session-level advisory lock held on a pooled connection, for work that must exclude
//! every other replica for longer than one transaction: while it waits on something outside
//! the database (an OAuth provider) or drives a saga of many transactions.
//!
//! The lock is taken inside a transaction only to bound the wait with `SET LOCAL
//! lock_timeout` (a session-level lock outlives the transaction that took it), so nothing of
//! the wait stays on the connection. When the process dies the connection closes and
//! PostgreSQL releases the lock at once: no lease to wait out.
//!
//! A pooled connection must never go back to the pool still holding the lock, or the next
//! user of that connection would hold it unknowingly: [`SessionLock::release`] unlocks it,
//! and a lock that is dropped without being released (a panic, a cancelled task, an unlock
//! that failed) takes its connection out of the pool and closes it.
//!
//! The lock is only as alive as its connection: a connection dropped by the network or by
//! `idle_session_timeout` releases it silently, and a transaction-pooling proxy (PgBouncer in
//! transaction mode) cannot hold it at all. Trellis needs direct or session-pooled
//! connections.

use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::DbConn;
use crate::error::StoreError;

#[derive(diesel::QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Held until [`SessionLock::release`]; see the module documentation.
pub struct SessionLock {
    conn: Option<DbConn>,
    key: String,
}

impl SessionLock {
    /// Takes the lock on `key` with `conn`, waiting at most `wait` for its holder (zero:
    /// only if it is free now). `None` when another holder kept it that long; the
    /// connection then goes back to the pool.
    pub async fn acquire(
        mut conn: DbConn,
        key: &str,
        wait: Duration,
    ) -> Result<Option<Self>, StoreError> {
        let taken = if wait.is_zero() {
            diesel::sql_query("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS flag")
                .bind::<Text, _>(key)
                .get_result::<Flag>(&mut conn)
                .await
                .map(|locked| locked.flag)
                .map_err(StoreError::from)
        } else {
            wait_for(&mut conn, key, wait).await
        };
        match taken {
            Ok(true) => Ok(Some(Self {
                conn: Some(conn),
                key: key.to_owned(),
            })),
            Ok(false) => Ok(None),
            Err(error) => {
                // It may hold the lock if only the commit failed: closed, never pooled.
                drop(DbConn::take(conn));
                Err(error)
            }
        }
    }

    /// The connection holding the lock, for the work it guards.
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        self.conn.as_mut().expect("held until released")
    }

    /// Unlocks and returns the connection to the pool; a connection that cannot be
    /// unlocked is closed instead.
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let unlocked =
            diesel::sql_query("SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS flag")
                .bind::<Text, _>(&self.key)
                .get_result::<Flag>(&mut conn)
                .await;
        if !matches!(unlocked, Ok(Flag { flag: true })) {
            tracing::warn!(key = %self.key, "could not unlock an advisory lock; closing its connection");
            drop(DbConn::take(conn));
        }
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection releases the lock; pooled, it would keep it.
            drop(DbConn::take(conn));
        }
    }
}

/// Waits up to `wait` for the lock in a transaction of its own; false when it ran out.
async fn wait_for(conn: &mut DbConn, key: &str, wait: Duration) -> Result<bool, StoreError> {
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            set_lock_timeout(conn, wait).await?;
            diesel::sql_query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
                .bind::<Text, _>(key)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await;
    match outcome {
        Ok(()) => Ok(true),
        Err(error) if is_lock_timeout(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Bounds every lock wait of the current transaction to `timeout`: at least 1 ms (zero
/// would mean no limit) and at most what PostgreSQL takes (`i32::MAX` ms).
pub async fn set_lock_timeout(
    conn: &mut AsyncPgConnection,
    timeout: Duration,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(format!(
        "SET LOCAL lock_timeout = {}",
        lock_timeout_ms(timeout)
    ))
    .execute(conn)
    .await?;
    Ok(())
}

fn lock_timeout_ms(timeout: Duration) -> u128 {
    timeout.as_millis().clamp(1, i32::MAX as u128)
}

/// Whether `error` is a lock wait that ran out (`lock_not_available`, SQLSTATE 55P03), as
/// [`crate::error::sqlstate`] knows it.
pub fn is_lock_timeout(error: &diesel::result::Error) -> bool {
    crate::error::sqlstate(error) == Some(crate::error::codes::LOCK_NOT_AVAILABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeouts_are_ones_postgresql_takes() {
        assert_eq!(lock_timeout_ms(Duration::ZERO), 1);
        assert_eq!(lock_timeout_ms(Duration::from_micros(10)), 1);
        assert_eq!(lock_timeout_ms(Duration::from_millis(300)), 300);
        assert_eq!(lock_timeout_ms(Duration::MAX), i32::MAX as u128);
    }
}
