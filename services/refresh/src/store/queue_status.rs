//! What GetQueueStatus shows of the queue (F3): its figures, of one account or of all, and
//! the places of an account's waiting jobs in the global queue.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::rows::RefreshJob;

/// Figures of the whole queue.
#[derive(Debug, Clone, Default, PartialEq, QueryableByName)]
pub struct QueueFigures {
    #[diesel(sql_type = BigInt)]
    pub depth: i64,
    #[diesel(sql_type = BigInt)]
    pub deferred: i64,
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest_enqueue_time: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub now: DateTime<Utc>,
}

/// The queue's figures: of one account's jobs, or of all (`None`, for operators).
pub async fn figures(
    conn: &mut AsyncPgConnection,
    account_id: Option<Uuid>,
) -> Result<QueueFigures, StoreError> {
    Ok(diesel::sql_query(
        "SELECT count(*) FILTER (WHERE state = 'queued') AS depth,
                count(*) FILTER (WHERE state = 'deferred') AS deferred,
                count(*) FILTER (WHERE state = 'running') AS running,
                min(enqueue_time) FILTER (WHERE state = 'queued') AS oldest_enqueue_time,
                now() AS now
         FROM refresh_jobs
         WHERE state IN ('queued', 'deferred', 'running')
           AND ($1::uuid IS NULL OR account_id = $1)",
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(account_id)
    .get_result(conn)
    .await?)
}

/// A waiting job of an account and its 1-based place in the global queue. A deferred job is
/// placed where it will return: at the front, by enqueue order (F3).
#[derive(Debug, Clone, QueryableByName)]
pub struct Positioned {
    #[diesel(embed)]
    pub job: RefreshJob,
    #[diesel(sql_type = BigInt)]
    pub position: i64,
}

pub async fn positions(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    limit: i64,
) -> Result<Vec<Positioned>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT ranked.* FROM (
             SELECT j.*, row_number() OVER (
                 ORDER BY (j.front OR j.state = 'deferred') DESC, j.seq
             ) AS position
             FROM refresh_jobs j
             WHERE j.state IN ('queued', 'deferred')
         ) AS ranked
         WHERE ranked.account_id = $1
         ORDER BY ranked.position
         LIMIT $2",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}
