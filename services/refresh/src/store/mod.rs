//! Diesel queries and transactions of the refresh service, one module per table group.
//! Stores return [`StoreError`](trellis_platform::error::StoreError) and know nothing of gRPC.

pub mod activity;
pub mod cache;
pub mod deliveries;
pub mod instances;
pub mod jobs;
pub mod limits;
pub mod outcomes;
pub mod schedules;

use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;

/// Forgets the answers kept for request ids (idempotency) older than `retention`.
pub async fn delete_request_ids_before(
    conn: &mut AsyncPgConnection,
    retention: Duration,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "DELETE FROM request_ids WHERE ctid IN (
             SELECT ctid FROM request_ids WHERE created_at < now() - $1 LIMIT 1000
         )",
    )
    .bind::<diesel::sql_types::Interval, _>(jobs::interval(retention))
    .execute(conn)
    .await?)
}
