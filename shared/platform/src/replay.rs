//! Request ids (DESIGN.md section 6): a mutating call made again with the same request id
//! by the same caller returns the first answer and changes nothing twice. Both halves run
//! inside the transaction of the change, on [`crate::idempotency`]'s table.
//!
//! [`write()`] is the skeleton of every such call: one transaction holding the replay, the
//! change and the remembered answer.
//!
//! ```text
//! let key = RequestKey::new(&caller, "CreateKlip", &request.request_id)?;
//! replay::write(&pool, &key, async |conn| {
//!     let row = store::klips::insert(conn, &klip).await?;
//!     Ok(CreateKlipResponse { klip: Some(convert::klip(&row)) })
//! })
//! .await
//! ```

use diesel_async::AsyncPgConnection;
use prost::Message;

use crate::auth::Caller;
use crate::db::{self, DbPool};
use crate::error::ApiResult;
use crate::idempotency;

/// Whose request ids these are: the same id from another caller is another call, and a
/// service's retries replay whichever replica sends them.
pub fn scope(caller: &Caller) -> String {
    if caller.is_service() {
        format!("service:{}", caller.user())
    } else {
        format!("user:{}:{}", caller.claims.acct, caller.user())
    }
}

/// A call's request id, in its caller's scope, for one method.
#[derive(Debug, Clone)]
pub struct RequestKey<'a> {
    scope: String,
    method: &'static str,
    request_id: &'a str,
}

impl<'a> RequestKey<'a> {
    /// The caller's own request ids. An empty request id is allowed and never replays.
    pub fn new(caller: &Caller, method: &'static str, request_id: &'a str) -> ApiResult<Self> {
        Self::scoped(scope(caller), method, request_id)
    }

    /// The caller's request ids for a call about `account`. A service token (an operator)
    /// acts in many accounts: the same request id in another account is another call, never
    /// a replay of the first account's answer.
    pub fn in_account(
        caller: &Caller,
        account: uuid::Uuid,
        method: &'static str,
        request_id: &'a str,
    ) -> ApiResult<Self> {
        Self::scoped(format!("{}:{account}", scope(caller)), method, request_id)
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

    pub fn request_id(&self) -> &str {
        self.request_id
    }

    /// The stored answer when this request was made before. Waits for a concurrent call
    /// with the same key to commit first.
    pub async fn replay<R: Message + Default>(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> ApiResult<Option<R>> {
        Ok(idempotency::replay(conn, &self.scope, self.method, self.request_id).await?)
    }

    /// Keeps `response` as this request's answer, in the open transaction.
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

/// [`write()`], with `mark` applied to a replayed answer (such as setting its `replayed`).
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
    let mut conn = db::connect(pool).await?;
    write_on_marking_replays(&mut conn, key, mark, body).await
}

/// A mutating call whose work calls other services, so that the work runs outside any
/// transaction: the first answer when `key` was used before; otherwise `work`, then `keep`
/// with its result in the one transaction that also remembers the answer `keep` gives (and
/// replays a concurrent first call that committed meanwhile).
pub async fn write_after<T, R>(
    pool: &DbPool,
    key: &RequestKey<'_>,
    work: impl AsyncFnOnce() -> ApiResult<T>,
    keep: impl AsyncFnOnce(&mut AsyncPgConnection, T) -> ApiResult<R>,
) -> ApiResult<R>
where
    R: Message + Default,
{
    let mut conn = db::connect(pool).await?;
    let replayed = key.replay(&mut conn).await?;
    drop(conn);
    if let Some(done) = replayed {
        return Ok(done);
    }
    let done = work().await?;
    write(pool, key, async move |conn| keep(conn, done).await).await
}

/// [`write()`] on a connection the caller holds; inside the caller's own transaction it is a
/// savepoint of it.
pub async fn write_on<R, F>(
    conn: &mut AsyncPgConnection,
    key: &RequestKey<'_>,
    body: F,
) -> ApiResult<R>
where
    R: Message + Default,
    F: AsyncFnOnce(&mut AsyncPgConnection) -> ApiResult<R>,
{
    write_on_marking_replays(conn, key, |_| {}, body).await
}

/// [`write_on`], with `mark` applied to a replayed answer.
pub async fn write_on_marking_replays<R, F>(
    conn: &mut AsyncPgConnection,
    key: &RequestKey<'_>,
    mark: impl FnOnce(&mut R),
    body: F,
) -> ApiResult<R>
where
    R: Message + Default,
    F: AsyncFnOnce(&mut AsyncPgConnection) -> ApiResult<R>,
{
    db::transaction(conn, async |conn| {
        if let Some(mut done) = key.replay(conn).await? {
            mark(&mut done);
            return Ok(done);
        }
        let response = body(conn).await?;
        key.remember(conn, &response).await?;
        Ok(response)
    })
    .await
}
