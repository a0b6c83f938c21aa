//! The import saga (DESIGN.md section 2; I5–I7, I12).
//!
//! Steps, each recorded in `imports.state` and `imports.progress` before the next begins,
//! each idempotent under a request id derived from the import's id:
//!
//! 1. CLONING: the library's CloneAssets copies the whole closure in one transaction under
//!    the import's id; a retry replays the same id mapping.
//! 2. GRANTING: for each cloned data source, a token grant on the master's token (I6) or a
//!    credential copy scoped to the data source plus UpdateDataSource to point it there (I5).
//! 3. LINKING: the master → instance links with the masters' versions and fingerprints as
//!    planned and the instances' versions as they are now; for a re-import as a new copy the
//!    old instances are removed first. The links and SUCCEEDED commit together.
//!
//! A step that fails for good is compensated: grants and credential copies made for the
//! clones are revoked and the clones deleted (COMPENSATED). One that fails transiently is
//! left where it is and retried by the recovery loop, with backoff, until `max_attempts`.
//! Only one driver runs an import at a time ([`SagaLocks`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tonic::Status;
use trellis_platform::background::Background;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, StoreError};
use uuid::Uuid;

use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::spec::ImportProgress;
use crate::peers::Peers;
use crate::settings::Settings;
use crate::store::imports;
use crate::store::saga_lock::SagaLocks;
use trellis_platform::peer::is_retryable;

mod compensate;
mod link;
mod steps;

pub struct Saga {
    pub pool: DbPool,
    pub locks: SagaLocks,
    pub peers: Peers,
    pub settings: Settings,
}

#[derive(Debug)]
enum StepError {
    /// Waiting may fix it: retry later.
    Transient(String),
    /// It will not work however often it is tried: compensate.
    Permanent(String),
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(error: StoreError) -> Self {
        StepError::Store(error)
    }
}

/// A failed peer call of the step doing `what`.
fn failed(what: &'static str) -> impl Fn(Status) -> StepError {
    move |status| {
        let message = format!("{what}: {} ({:?})", status.message(), status.code());
        if is_retryable(&status) {
            StepError::Transient(message)
        } else {
            StepError::Permanent(message)
        }
    }
}

fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(0, 6) as u32;
    Duration::from_secs(5 * 2u64.pow(exponent)).min(Duration::from_secs(300))
}

impl Saga {
    /// Drives the import until it ends or waits on a transient failure, unless another
    /// driver holds it longer than `wait`; returns the import as it is then. The work runs
    /// in a task of its own, so a caller that goes away does not cut a step in half.
    pub async fn run(self: &Arc<Self>, id: Uuid, wait: Duration) -> Result<Import, ApiError> {
        let saga = self.clone();
        tokio::spawn(async move {
            if let Some(lock) = saga.locks.acquire(id, wait).await? {
                let driven = saga.drive(id).await;
                lock.release().await;
                driven?;
            }
            saga.load(id).await
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Drives the import if no one else is driving it (the recovery loop).
    pub async fn resume(&self, id: Uuid) -> Result<(), StoreError> {
        if let Some(lock) = self.locks.acquire(id, Duration::ZERO).await? {
            let driven = self.drive(id).await;
            lock.release().await;
            driven?;
        }
        Ok(())
    }

    /// Records that the import moved from `from` on to `to`, with `progress` and `error`;
    /// false when another driver moved it first.
    async fn advance(
        &self,
        import: &Import,
        from: ImportState,
        to: ImportState,
        progress: &ImportProgress,
        error: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        imports::advance(&mut conn, import.id, &[from], to, progress, error).await
    }

    async fn load(&self, id: Uuid) -> Result<Import, ApiError> {
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        imports::get(&mut conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("import", id))
    }

    async fn drive(&self, id: Uuid) -> Result<(), StoreError> {
        loop {
            let mut conn = trellis_platform::db::connect(&self.pool).await?;
            let Some(import) = imports::get(&mut conn, id).await? else {
                return Ok(());
            };
            drop(conn);
            let outcome = match import.state {
                ImportState::Pending | ImportState::Cloning => self.clone_assets(&import).await,
                ImportState::Granting => self.grant(&import).await,
                ImportState::Linking => self.link(&import).await,
                ImportState::Compensating => self.compensate(&import).await,
                ImportState::Succeeded | ImportState::Compensated | ImportState::Failed => {
                    return Ok(());
                }
            };
            let error = match outcome {
                Ok(()) => continue,
                Err(StepError::Store(error)) => return Err(error),
                Err(StepError::Transient(message))
                    if import.attempts + 1 < self.settings.max_attempts as i32 =>
                {
                    tracing::warn!(import = %id, state = import.state.as_str(), error = %message, "import step failed; will retry");
                    let next = Utc::now()
                        + chrono::Duration::from_std(backoff(import.attempts)).unwrap_or_default();
                    let mut conn = trellis_platform::db::connect(&self.pool).await?;
                    imports::postpone(&mut conn, id, &message, next).await?;
                    return Ok(());
                }
                Err(StepError::Transient(message)) => {
                    format!("gave up after {} attempts: {message}", import.attempts + 1)
                }
                Err(StepError::Permanent(message)) => message,
            };
            tracing::warn!(import = %id, state = import.state.as_str(), %error, "import step failed for good");
            let (next, error) = match import.state {
                // The library cloned nothing: its transaction rolled back.
                ImportState::Pending | ImportState::Cloning => (ImportState::Compensated, error),
                ImportState::Compensating => (ImportState::Failed, error),
                // The new copy is complete; removing the old instance may have begun, so
                // deleting the new copy as well could leave neither.
                ImportState::Linking if import.kind == ImportKind::ReimportNewCopy => (
                    ImportState::Failed,
                    format!(
                        "{error}; the new copy was made but the old instance may remain: delete it with DeleteInstances"
                    ),
                ),
                _ => (ImportState::Compensating, error),
            };
            self.advance(&import, import.state, next, &import.progress, &error)
                .await?;
        }
    }
}

/// Finishes what crashes and failing peers left unfinished: once at start (every unfinished
/// import, whatever its next attempt time) and then every `interval` (those due). When the
/// service stops, the import being driven is driven as far as it goes (its step ends, its
/// lock is released) and no other is begun.
pub async fn recover(saga: Arc<Saga>, interval: Duration, background: Background) {
    let stop = background.token();
    let mut due = None;
    loop {
        match pending(&saga, due).await {
            Ok(ids) => {
                for id in ids {
                    if stop.is_cancelled() {
                        return;
                    }
                    if let Err(error) = saga.resume(id).await {
                        tracing::warn!(import = %id, %error, "could not resume the import");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not look for unfinished imports"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        due = Some(Utc::now());
    }
}

async fn pending(saga: &Saga, due: Option<chrono::DateTime<Utc>>) -> Result<Vec<Uuid>, StoreError> {
    let mut conn = trellis_platform::db::connect(&saga.pool).await?;
    imports::unfinished(&mut conn, due, 100).await
}
