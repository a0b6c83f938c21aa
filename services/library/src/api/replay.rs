//! Request ids (DESIGN.md section 6): a mutating call made again with the same request id
//! by the same caller returns the first answer and changes nothing twice. Both halves run
//! inside the transaction of the change.

use diesel_async::AsyncPgConnection;
use prost::Message;
use trellis_platform::auth::Caller;
use trellis_platform::error::ApiResult;
use trellis_platform::idempotency;

use super::access;

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
