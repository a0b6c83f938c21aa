//! Fetch samples: one row per successful fetch of a data source in an account, kept
//! [`RETENTION`], from which GetRefreshStatus computes the data source's fetch metrics
//! ("the time it takes for the source system to respond", seed 001).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamptz};
use diesel::sql_types::{Interval, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::rows::{FetchFigures, as_micros, micros};

/// How long samples are kept, and the span the metrics look at.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// The most recent samples the metrics are computed over.
pub const METRICS_SAMPLES: i64 = 100;

/// Expired samples deleted per insert at most, so that pruning stays a small part of
/// every success however many samples expired at once.
const PRUNE_PER_INSERT: i64 = 500;

/// Records a sample per completed job (the columns are parallel), each with its own wait
/// for API limits, and prunes expired samples (of any data source, so that one no longer
/// fetched is pruned too).
pub async fn record(
    conn: &mut AsyncPgConnection,
    data_source_ids: &[Uuid],
    account_ids: &[Uuid],
    instance_keys: &[String],
    limit_waits_us: &[i64],
    fetch_time: DateTime<Utc>,
    figures: &FetchFigures,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "INSERT INTO fetch_samples (data_source_id, account_id, instance_key, fetch_time,
                                    duration_us, bytes, pages, limit_wait_us)
         SELECT u.data_source_id, u.account_id, u.instance_key, $5, $6, $7, $8, u.limit_wait_us
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[])
             AS u(data_source_id, account_id, instance_key, limit_wait_us)",
    )
    .bind::<Array<SqlUuid>, _>(data_source_ids)
    .bind::<Array<SqlUuid>, _>(account_ids)
    .bind::<Array<Text>, _>(instance_keys)
    .bind::<Array<BigInt>, _>(limit_waits_us)
    .bind::<Timestamptz, _>(fetch_time)
    .bind::<BigInt, _>(as_micros(figures.duration))
    .bind::<BigInt, _>(figures.bytes.max(0))
    .bind::<Integer, _>(figures.pages.max(0))
    .execute(conn)
    .await?;
    // Another worker pruning the same rows is skipped, not waited for.
    diesel::sql_query(
        "DELETE FROM fetch_samples WHERE id IN (
             SELECT id FROM fetch_samples WHERE fetch_time < now() - $1
             ORDER BY fetch_time LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Interval, _>(crate::store::jobs::interval(RETENTION))
    .bind::<BigInt, _>(PRUNE_PER_INSERT)
    .execute(conn)
    .await?;
    Ok(())
}

/// A data source's fetch metrics over its most recent samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchMetrics {
    pub fetches: i32,
    pub p50_duration: Duration,
    pub p95_duration: Duration,
    pub p50_bytes: i64,
    pub total_limit_wait: Duration,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    fetches: i32,
    #[diesel(sql_type = Nullable<Double>)]
    p50_duration_us: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p95_duration_us: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p50_bytes: Option<f64>,
    #[diesel(sql_type = BigInt)]
    total_limit_wait_us: i64,
}

/// The metrics of `data_source_id` in `account_id` over its most recent
/// [`METRICS_SAMPLES`] samples of the last [`RETENTION`]; `None` without any.
pub async fn metrics(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    data_source_id: Uuid,
) -> Result<Option<FetchMetrics>, StoreError> {
    let row: Row = diesel::sql_query(
        "WITH recent AS (
             SELECT duration_us, bytes, limit_wait_us FROM fetch_samples
             WHERE data_source_id = $1 AND account_id = $2 AND fetch_time > now() - $3
             ORDER BY fetch_time DESC
             LIMIT $4
         )
         SELECT count(*)::int4 AS fetches,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_us) AS p50_duration_us,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_us) AS p95_duration_us,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY bytes) AS p50_bytes,
                COALESCE(sum(limit_wait_us), 0)::int8 AS total_limit_wait_us
         FROM recent",
    )
    .bind::<SqlUuid, _>(data_source_id)
    .bind::<SqlUuid, _>(account_id)
    .bind::<Interval, _>(crate::store::jobs::interval(RETENTION))
    .bind::<BigInt, _>(METRICS_SAMPLES)
    .get_result(conn)
    .await?;
    if row.fetches == 0 {
        return Ok(None);
    }
    let us = |value: Option<f64>| micros(value.unwrap_or(0.0).round() as i64);
    Ok(Some(FetchMetrics {
        fetches: row.fetches,
        p50_duration: us(row.p50_duration_us),
        p95_duration: us(row.p95_duration_us),
        p50_bytes: row.p50_bytes.unwrap_or(0.0).round() as i64,
        total_limit_wait: micros(row.total_limit_wait_us),
    }))
}
