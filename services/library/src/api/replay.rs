//! Request ids (DESIGN.md section 6): a mutating call made again with the same request id
//! by the same caller returns the first answer and changes nothing twice. Both halves run
//! inside the transaction of the change.
//!
//! [`write`] is the skeleton of every such call: one transaction holding the replay, the
//! change and the remembered answer. [`require_etag`] is its optimistic-concurrency check.

use diesel_async::AsyncPgConnection;
use prost::Message;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::idempotency;

use super::access;
use crate::domain::etag;
use crate::store;

pub struct RequestKey<'a> {
    scope: String,
    method: &'static str,
    request_id: &'a str,
}

impl<'a> RequestKey<'a> {
    /// The caller's own request ids.
    pub fn new(caller: &Caller, method: &'static str, request_id: &'a str) -> ApiResult<Self> {
        Self::scoped(access::scope(caller), method, request_id)
    }

    /// Request ids in an explicit scope, such as a clone's destination account.
    pub fn scoped(scope: String, method: &'static str, request_id: &'a str) -> ApiResult<Self> {
        idempotency::validate(request_id)?;
        Ok(Self {
            scope,
            method,
            request_id,
        })
    }

    /// The stored answer when this request was made before. Waits for a concurrent call
    /// with the same key to commit first.
    pub async fn replay<R: Message + Default>(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> ApiResult<Option<R>> {
        Ok(idempotency::replay(conn, &self.scope, self.method, self.request_id).await?)
    }

    pub async fn remember<R: Message>(
        &self,
        conn: &mut AsyncPgConnection,
        response: &R,
    ) -> ApiResult<()> {
        Ok(
            idempotency::remember(conn, &self.scope, self.method, self.request_id, response)
                .await?,
        )
    }
}

/// Runs a mutating call in one transaction: the stored answer when `key` was used before,
/// otherwise `body`'s, remembered under `key` before the commit.
pub async fn write<R, F>(pool: &DbPool, key: &RequestKey<'_>, body: F) -> ApiResult<R>
where
    R: Message + Default,
    F: AsyncFnOnce(&mut AsyncPgConnection) -> ApiResult<R>,
{
    write_marking_replays(pool, key, |_| {}, body).await
}

/// [`write`], with `mark` applied to a replayed answer (such as setting its `replayed`).
pub async fn write_marking_replays<R, F>(
    pool: &DbPool,
    key: &RequestKey<'_>,
    mark: impl FnOnce(&mut R),
    body: F,
) -> ApiResult<R>
where
    R: Message + Default,
    F: AsyncFnOnce(&mut AsyncPgConnection) -> ApiResult<R>,
{
    let mut conn = store::connect(pool).await?;
    store::begin(&mut conn).await?;
    let outcome = async {
        if let Some(mut done) = key.replay(&mut conn).await? {
            mark(&mut done);
            return Ok(done);
        }
        let response = body(&mut conn).await?;
        key.remember(&mut conn, &response).await?;
        Ok(response)
    }
    .await;
    store::finish(&mut conn, outcome).await
}

/// A change made against what the caller read: `wanted` (the caller's etag, empty for
/// none) must still match `current`, or the call is ABORTED.
pub fn require_etag(wanted: &str, current: &str, what: &str) -> ApiResult<()> {
    if etag::matches(wanted, current) {
        Ok(())
    } else {
        Err(ApiError::Aborted(format!(
            "the {what} changed; read it again"
        )))
    }
}
