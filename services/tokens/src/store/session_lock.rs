//! A session-level advisory lock held on a pooled connection, for work that must exclude
//! every other replica while it waits on something outside the database (a provider).
//!
//! Unlike a transaction-scoped lock it lets that wait happen outside any transaction, and
//! the result is then written in a short transaction of its own. The lock is taken inside a
//! transaction only to bound the wait with `SET LOCAL lock_timeout` (a session-level lock
//! outlives the transaction that took it), so nothing of the wait stays on the connection.
//!
//! A pooled connection must never go back to the pool still holding the lock: [`release`]
//! unlocks it, and a lock that is dropped without being released (a panic, an unlock that
//! failed) takes its connection out of the pool and closes it, which makes PostgreSQL
//! release the lock at once.
//!
//! [`release`]: SessionLock::release

use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use trellis_platform::db::DbConn;
use trellis_platform::error::StoreError;

use super::{lock_error, set_lock_timeout};

#[derive(diesel::QueryableByName)]
struct Unlocked {
    #[diesel(sql_type = Bool)]
    unlocked: bool,
}

/// Held until [`SessionLock::release`]; see the module documentation.
pub struct SessionLock {
    conn: Option<DbConn>,
    key: String,
}

impl SessionLock {
    /// Takes the lock on `key` with `conn`, waiting at most `wait` for its holder; a wait
    /// that runs out is [`StoreError::Unavailable`].
    pub async fn acquire(mut conn: DbConn, key: &str, wait: Duration) -> Result<Self, StoreError> {
        let taken = conn
            .transaction::<_, StoreError, _>(async |conn| {
                set_lock_timeout(conn, wait).await?;
                diesel::sql_query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
                    .bind::<Text, _>(key)
                    .execute(conn)
                    .await
                    .map_err(lock_error)?;
                Ok(())
            })
            .await;
        match taken {
            Ok(()) => Ok(Self {
                conn: Some(conn),
                key: key.to_owned(),
            }),
            Err(error) => {
                // Whether the lock was taken is unknown only if the commit failed; a
                // connection that may hold it is closed rather than pooled.
                if !matches!(error, StoreError::Unavailable(_)) {
                    drop(DbConn::take(conn));
                }
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
            diesel::sql_query("SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS unlocked")
                .bind::<Text, _>(&self.key)
                .get_result::<Unlocked>(&mut conn)
                .await;
        if !matches!(unlocked, Ok(Unlocked { unlocked: true })) {
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
