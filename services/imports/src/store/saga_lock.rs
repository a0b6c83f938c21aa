//! One driver per import at a time, across every replica, within the connection pool.
//!
//! The lock is a session-level PostgreSQL advisory lock on `imports.saga/<id>`, held by a
//! connection taken from the pool for as long as the saga is driven: when the process dies
//! (a crash, a kill, the test-only fault injection) the connection closes and PostgreSQL
//! releases the lock at once, so the next replica or the restarted process can resume the
//! import without waiting for a lease to expire.
//!
//! What keeps that from exhausting the pool:
//!
//! - callers of one process that want the same import queue in the process, not on the
//!   database: only the first of them holds a connection while it waits for the lock;
//! - at most [`SagaLocks::slots`] locks are held at once, half the pool, so the sagas
//!   themselves (each takes one more connection at a time for its steps) and the handlers
//!   always find connections;
//! - every wait (for the turn, a slot, a connection, the lock) ends at the caller's deadline.
//!
//! The lock itself is a [`SessionLock`]: a pooled connection never goes back to the pool
//! holding it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use trellis_platform::db::DbPool;
use trellis_platform::error::StoreError;
use trellis_platform::session_lock::SessionLock;
use uuid::Uuid;

/// The smallest pool the service runs with: a saga holds one connection for its lock and
/// takes one more for each step.
pub const MIN_POOL_SIZE: usize = 2;

/// The longest wait [`SagaLocks::acquire`] honours; a longer one is taken as this. It keeps
/// the wait's deadline a time that can be computed, and its `lock_timeout` within what
/// PostgreSQL takes (at most `i32::MAX` milliseconds).
pub const MAX_WAIT: Duration = crate::settings::MAX_EXECUTE_WAIT;

fn key(import: Uuid) -> String {
    format!("imports.saga/{import}")
}

type Queues = Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>>;

/// The saga locks of this process. Cheap to share behind the saga's `Arc`.
pub struct SagaLocks {
    pool: DbPool,
    slots: Arc<Semaphore>,
    queues: Queues,
}

/// Held while an import is being driven; see the module documentation.
pub struct SagaLock {
    lock: SessionLock,
    _slot: OwnedSemaphorePermit,
    _turn: Turn,
}

/// This process's turn at one import: the first in its queue.
struct Turn {
    guard: Option<OwnedMutexGuard<()>>,
    queues: Queues,
    import: Uuid,
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        forget_if_idle(&self.queues, self.import);
    }
}

fn queues(
    queues: &Queues,
) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>> {
    // Only inserts and removes happen under it: a panic leaves it consistent.
    queues
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Drops the queue of `import` once nobody holds or waits for it.
fn forget_if_idle(all: &Queues, import: Uuid) {
    let mut all = queues(all);
    if all
        .get(&import)
        .is_some_and(|queue| Arc::strong_count(queue) == 1)
    {
        all.remove(&import);
    }
}

impl SagaLocks {
    pub fn new(pool: DbPool) -> Self {
        let slots = Self::slots(pool.status().max_size);
        Self {
            pool,
            slots: Arc::new(Semaphore::new(slots)),
            queues: Arc::default(),
        }
    }

    /// Sagas this process drives at once with a pool of `pool_size`: half of it.
    pub fn slots(pool_size: usize) -> usize {
        (pool_size / 2).max(1)
    }

    /// The lock of `import`, waiting up to `wait` (at most [`MAX_WAIT`]) for whoever holds
    /// it (zero: only if it is free now). `None` when another driver still holds it then;
    /// UNAVAILABLE when this process could not get a free slot or connection in time.
    pub async fn acquire(
        &self,
        import: Uuid,
        wait: Duration,
    ) -> Result<Option<SagaLock>, StoreError> {
        let wait = wait.min(MAX_WAIT);
        let now = Instant::now();
        let deadline = now.checked_add(wait).unwrap_or(now);
        let Some(turn) = self.turn(import, deadline).await else {
            return Ok(None);
        };
        let slot = if wait.is_zero() {
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => return Ok(None),
            }
        } else {
            tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
                .await
                .map_err(|_| busy("every saga slot of this process is taken"))?
                .map_err(|_| busy("the saga slots are closed"))?
        };
        let soon = Instant::now()
            .checked_add(Duration::from_millis(100))
            .unwrap_or(deadline);
        let conn = tokio::time::timeout_at(deadline.max(soon), self.pool.get())
            .await
            .map_err(|_| busy("no database connection was free"))??;
        let left = if wait.is_zero() {
            Duration::ZERO
        } else {
            // At least a moment: zero would mean "only if free now".
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        };
        let lock = SessionLock::acquire(conn, &key(import), left).await?;
        Ok(lock.map(|lock| SagaLock {
            lock,
            _slot: slot,
            _turn: turn,
        }))
    }

    /// Waits for this process's turn at `import`; `None` when `deadline` passes first.
    async fn turn(&self, import: Uuid, deadline: Instant) -> Option<Turn> {
        let queue = queues(&self.queues).entry(import).or_default().clone();
        let guard = match queue.clone().try_lock_owned() {
            Ok(guard) => Some(guard),
            Err(_) => tokio::time::timeout_at(deadline, queue.lock_owned())
                .await
                .ok(),
        };
        match guard {
            Some(guard) => Some(Turn {
                guard: Some(guard),
                queues: self.queues.clone(),
                import,
            }),
            None => {
                forget_if_idle(&self.queues, import);
                None
            }
        }
    }
}

impl SagaLock {
    /// Unlocks and returns the connection to the pool (see [`SessionLock::release`]).
    pub async fn release(self) {
        self.lock.release().await;
    }
}

fn busy(why: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "{why}: the import is recorded and is finished by the recovery loop; call again with \
         the same request id to wait for it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_wait_fits_a_lock_timeout() {
        assert!(MAX_WAIT.as_millis() <= i32::MAX as u128);
    }
}
