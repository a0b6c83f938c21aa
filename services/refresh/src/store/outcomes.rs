//! The end of a claim: success, failure or deferral of the jobs a worker fetched together.
//! Each is one transaction, and each writes only for jobs still leased under the attempt the
//! worker claimed (fencing): a worker that lost its lease changes nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::db;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::backoff::{AfterFailure, BackoffPolicy};
use crate::domain::job::{InstanceId, JobState, Lease};
use crate::store::rows::{CachedData, FetchFigures, as_micros};
use crate::store::{cache, fetch_samples as samples, lease_columns, limits};

#[derive(QueryableByName)]
struct Finished {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    data_source_id: Uuid,
    #[diesel(sql_type = Text)]
    instance_key: String,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    /// What the job waited for API limits before it was sent.
    #[diesel(sql_type = BigInt)]
    limit_wait_us: i64,
}

async fn finish(
    conn: &mut AsyncPgConnection,
    leases: &[Lease],
    state: JobState,
    error: &str,
) -> Result<Vec<Finished>, StoreError> {
    let (ids, attempts) = lease_columns(leases);
    Ok(diesel::sql_query(
        "UPDATE refresh_jobs AS j
         SET state = $3, error = $4, finish_time = now(), lease_deadline = NULL
         FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
         WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'
         RETURNING j.id, j.data_source_id, j.instance_key, j.account_id, j.limit_wait_us",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .bind::<Text, _>(state)
    .bind::<Text, _>(error)
    .load(conn)
    .await?)
}

/// One job of a successful fetch, with the data source version it was resolved at.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub lease: Lease,
    pub data_source_version: i64,
}

/// Completes the jobs whose lease is still held as [`succeed_measured`] does, for a fetch
/// whose figures were not measured (one page of `data.size_bytes`, no time).
pub async fn succeed(
    conn: &mut AsyncPgConnection,
    permit_holder: Option<Lease>,
    jobs: &[Fetched],
    data: &CachedData,
) -> Result<Vec<Uuid>, StoreError> {
    let figures = FetchFigures {
        bytes: data.size_bytes,
        pages: 1,
        ..FetchFigures::default()
    };
    succeed_measured(conn, permit_holder, jobs, data, &figures).await
}

/// Completes the jobs whose lease is still held, stores the data once for them, moves
/// their instances' next refresh a refresh interval on and clears their failures, records
/// what the fetch took (`figures`, whose `limit_wait` is the wait between its pages; each
/// job adds the time a limit deferred it) on each instance and as a sample, and releases
/// the permit. Returns the ids of the jobs completed.
pub async fn succeed_measured(
    conn: &mut AsyncPgConnection,
    permit_holder: Option<Lease>,
    jobs: &[Fetched],
    data: &CachedData,
    figures: &FetchFigures,
) -> Result<Vec<Uuid>, StoreError> {
    db::transaction(conn, async |conn| {
        let leases: Vec<Lease> = jobs.iter().map(|j| j.lease).collect();
        let finished = finish(conn, &leases, JobState::Succeeded, "").await?;
        if !finished.is_empty() {
            cache::put(conn, data).await?;
            let version_of = |id: Uuid| {
                jobs.iter()
                    .find(|j| j.lease.job_id == id)
                    .map_or(0, |j| j.data_source_version)
            };
            let ds: Vec<Uuid> = finished.iter().map(|f| f.data_source_id).collect();
            let keys: Vec<String> = finished.iter().map(|f| f.instance_key.clone()).collect();
            let versions: Vec<i64> = finished.iter().map(|f| version_of(f.id)).collect();
            let page_wait = as_micros(figures.limit_wait);
            let waits: Vec<i64> = finished
                .iter()
                .map(|f| f.limit_wait_us.max(0).saturating_add(page_wait))
                .collect();
            diesel::sql_query(
                "UPDATE instances AS i
                 SET last_fetch_time = $5, fetched_version = u.version, last_attempt_time = now(),
                     consecutive_failures = 0, last_error = '', backoff_until = NULL,
                     disabled = false, fetch_count = i.fetch_count + 1,
                     next_due_time = CASE WHEN i.refresh_interval_ms > 0
                         THEN $5 + i.refresh_interval_ms * interval '1 millisecond' END,
                     last_fetch_duration_us = $6, last_fetch_bytes = $7, last_fetch_pages = $8,
                     last_fetch_limit_wait_us = u.limit_wait_us
                 FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::int8[])
                     AS u(data_source_id, instance_key, version, limit_wait_us)
                 WHERE i.data_source_id = u.data_source_id AND i.instance_key = u.instance_key",
            )
            .bind::<Array<SqlUuid>, _>(&ds)
            .bind::<Array<Text>, _>(&keys)
            .bind::<Array<BigInt>, _>(versions)
            .bind::<Array<BigInt>, _>(&waits)
            .bind::<Timestamptz, _>(data.fetch_time)
            .bind::<BigInt, _>(as_micros(figures.duration))
            .bind::<BigInt, _>(figures.bytes.max(0))
            .bind::<Integer, _>(figures.pages.max(0))
            .execute(conn)
            .await?;
            let accounts: Vec<Uuid> = finished.iter().map(|f| f.account_id).collect();
            samples::record(
                conn,
                &ds,
                &accounts,
                &keys,
                &waits,
                data.fetch_time,
                figures,
            )
            .await?;
        }
        release(conn, permit_holder).await?;
        Ok(finished.into_iter().map(|f| f.id).collect())
    })
    .await
}

/// Fails the jobs whose lease is still held with `error`. When `count` is set, each
/// instance's consecutive failures grow by one and it backs off or is disabled (F8); a
/// failure that is not the data source's fault (it was deleted, say) does not count.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    permit_holder: Option<Lease>,
    leases: &[Lease],
    error: &str,
    count: bool,
    policy: &BackoffPolicy,
) -> Result<Vec<Uuid>, StoreError> {
    db::transaction(conn, async |conn| {
        let finished = finish(conn, leases, JobState::Failed, error).await?;
        if count {
            for job in &finished {
                record_failure(
                    conn,
                    &InstanceId {
                        data_source_id: job.data_source_id,
                        instance_key: job.instance_key.clone(),
                    },
                    error,
                    policy,
                )
                .await?;
            }
        }
        release(conn, permit_holder).await?;
        Ok(finished.into_iter().map(|f| f.id).collect())
    })
    .await
}

/// Fails the jobs whose lease is still held with `error`, counting a failure (F8), and
/// releases whatever permits any of them holds: for a worker task that failed without
/// knowing which permits it had taken.
pub async fn fail_releasing(
    conn: &mut AsyncPgConnection,
    leases: &[Lease],
    error: &str,
    policy: &BackoffPolicy,
) -> Result<Vec<Uuid>, StoreError> {
    db::transaction(conn, async |conn| {
        let failed = fail(conn, None, leases, error, true, policy).await?;
        for lease in leases {
            limits::release(conn, *lease).await?;
        }
        Ok(failed)
    })
    .await
}

async fn record_failure(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
    error: &str,
    policy: &BackoffPolicy,
) -> Result<(), StoreError> {
    #[derive(QueryableByName)]
    struct Failures {
        #[diesel(sql_type = Integer)]
        consecutive_failures: i32,
    }
    let Some(current) = diesel::sql_query(
        "SELECT consecutive_failures FROM instances
         WHERE data_source_id = $1 AND instance_key = $2 FOR UPDATE",
    )
    .bind::<SqlUuid, _>(instance.data_source_id)
    .bind::<Text, _>(&instance.instance_key)
    .get_result::<Failures>(conn)
    .await
    .optional()?
    else {
        return Ok(());
    };
    let failures = current.consecutive_failures.saturating_add(1);
    let (disabled, backoff) = match policy.after(failures.max(0) as u32) {
        AfterFailure::Disable => (true, None),
        AfterFailure::BackOff(wait) => (false, Some(crate::store::jobs::interval(wait))),
    };
    diesel::sql_query(
        "UPDATE instances
         SET consecutive_failures = $3, last_error = $4, last_attempt_time = now(),
             disabled = $5,
             backoff_until = CASE WHEN $5 THEN NULL ELSE now() + $6 END,
             next_due_time = CASE WHEN $5 THEN NULL ELSE now() + $6 END
         WHERE data_source_id = $1 AND instance_key = $2",
    )
    .bind::<SqlUuid, _>(instance.data_source_id)
    .bind::<Text, _>(&instance.instance_key)
    .bind::<Integer, _>(failures)
    .bind::<Text, _>(error)
    .bind::<diesel::sql_types::Bool, _>(disabled)
    .bind::<Nullable<diesel::sql_types::Interval>, _>(backoff)
    .execute(conn)
    .await?;
    Ok(())
}

/// Defers the jobs whose lease is still held until `until` (they go to the front of the
/// queue then), keeps every request of `hold_back_keys` from starting before it (after a
/// 429), and releases the permit.
pub async fn defer(
    conn: &mut AsyncPgConnection,
    permit_holder: Option<Lease>,
    leases: &[Lease],
    until: DateTime<Utc>,
    hold_back_keys: &[String],
) -> Result<usize, StoreError> {
    db::transaction(conn, async |conn| {
        let (ids, attempts) = lease_columns(leases);
        let deferred = limits::defer_held(conn, &ids, &attempts, until, None).await?;
        limits::hold_back(conn, hold_back_keys, until).await?;
        release(conn, permit_holder).await?;
        Ok(deferred)
    })
    .await
}

/// Defers the jobs whose lease is still held as [`defer`] does, unless a job was deferred
/// `max_deferrals` times in a row already: that one fails with `error` and a counted failure
/// (F8), so that an API answering 429 forever, or a peer that never answers, makes its
/// instance back off rather than return to the front of the queue every few seconds.
/// Returns the ids of the jobs failed.
pub async fn defer_or_fail(
    conn: &mut AsyncPgConnection,
    permit_holder: Option<Lease>,
    leases: &[Lease],
    until: DateTime<Utc>,
    hold_back_keys: &[String],
    max_deferrals: u32,
    error: &str,
    policy: &BackoffPolicy,
) -> Result<Vec<Uuid>, StoreError> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Integer)]
        attempt: i32,
    }
    let max = i32::try_from(max_deferrals).unwrap_or(i32::MAX);
    db::transaction(conn, async |conn| {
        let (ids, attempts) = lease_columns(leases);
        let patient: Vec<Held> = diesel::sql_query(
            "UPDATE refresh_jobs AS j SET deferrals = j.deferrals + 1
             FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
             WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'
               AND j.deferrals < $3
             RETURNING j.id, j.attempt",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Integer>, _>(&attempts)
        .bind::<Integer, _>(max)
        .load(conn)
        .await?;
        let (defer_ids, defer_attempts): (Vec<Uuid>, Vec<i32>) =
            patient.iter().map(|h| (h.id, h.attempt)).unzip();
        limits::defer_held(conn, &defer_ids, &defer_attempts, until, None).await?;
        // The rest ran out of patience (or lost their lease, which `fail` fences).
        let exhausted: Vec<Lease> = leases
            .iter()
            .filter(|l| !defer_ids.contains(&l.job_id))
            .copied()
            .collect();
        let failed = if exhausted.is_empty() {
            Vec::new()
        } else {
            fail(conn, None, &exhausted, error, true, policy).await?
        };
        limits::hold_back(conn, hold_back_keys, until).await?;
        release(conn, permit_holder).await?;
        Ok(failed)
    })
    .await
}

/// Releases the permit `holder` holds, if any.
async fn release(conn: &mut AsyncPgConnection, holder: Option<Lease>) -> Result<(), StoreError> {
    match holder {
        Some(holder) => limits::release(conn, holder).await,
        None => Ok(()),
    }
}

/// Releases a permit outside any outcome (before retrying with a fresh access token).
pub async fn release_permit(conn: &mut AsyncPgConnection, holder: Lease) -> Result<(), StoreError> {
    db::transaction(conn, async |conn| limits::release(conn, holder).await).await
}
