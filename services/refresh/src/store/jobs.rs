//! The refresh queue (F3; DESIGN.md section 7).
//!
//! Jobs are claimed in one statement, in (front, seq) order, with `FOR UPDATE SKIP LOCKED`
//! so that any number of workers in any number of replicas claim disjoint jobs without
//! waiting for each other; the partial index `refresh_jobs_claim` on `(front DESC, seq)
//! WHERE state = 'queued'` serves it. A claim increments the job's `attempt`, which fences
//! everything the worker later writes about it. Deferred jobs whose time has come and
//! running jobs whose lease expired are moved back to the front of the queue by
//! [`promote_due_deferred`] and [`reclaim_expired_leases`].

use std::time::Duration;

use diesel::dsl;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Interval, Nullable, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::job::{InstanceId, JobState, Lease};
use crate::store::lease_columns;
use crate::store::rows::{NewJob, RefreshJob};
use crate::store::schema::refresh_jobs;

/// Identical requests claimed with the head of the queue in one claim, at most: a
/// thousand accounts sharing one request are fetched once in groups of this many, rather
/// than one claim locking and leasing them all.
pub const MAX_SIBLINGS_PER_CLAIM: i64 = 100;

/// The longest interval sent to PostgreSQL: `now() + interval` stays inside its range.
const MAX_INTERVAL: Duration = Duration::from_secs(100 * 365 * 86_400);

pub fn interval(duration: Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(
        duration.min(MAX_INTERVAL).as_micros() as i64
    )
}

/// Queues `jobs` in order, skipping any whose instance already has a waiting or running
/// job (the partial unique index `refresh_jobs_one_per_instance`). Returns the ids queued.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Uuid>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::insert_into(refresh_jobs::table)
        .values(jobs)
        .on_conflict_do_nothing()
        .returning(refresh_jobs::id)
        .get_results(conn)
        .await?)
}

/// The jobs of one instance.
type OfInstance<'a> = dsl::And<
    dsl::Eq<refresh_jobs::data_source_id, Uuid>,
    dsl::Eq<refresh_jobs::instance_key, &'a str>,
>;

fn of_instance(instance: &InstanceId) -> OfInstance<'_> {
    refresh_jobs::data_source_id
        .eq(instance.data_source_id)
        .and(refresh_jobs::instance_key.eq(instance.instance_key.as_str()))
}

/// The waiting or running job of an instance, if any.
pub async fn active_job(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
) -> Result<Option<RefreshJob>, StoreError> {
    Ok(refresh_jobs::table
        .filter(of_instance(instance))
        .filter(refresh_jobs::state.eq_any(JobState::ACTIVE))
        .select(RefreshJob::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Puts an instance's queued job before every normal job (F7: a report's refresh goes to
/// the front whatever else waits). Returns whether there was one to move.
pub async fn move_to_front(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
) -> Result<bool, StoreError> {
    let moved = diesel::update(
        refresh_jobs::table
            .filter(of_instance(instance))
            .filter(refresh_jobs::state.eq(JobState::Queued))
            .filter(refresh_jobs::front.eq(false)),
    )
    .set(refresh_jobs::front.eq(true))
    .execute(conn)
    .await?;
    Ok(moved > 0)
}

/// The jobs with these ids that still exist.
pub async fn get_many(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<RefreshJob>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(refresh_jobs::table
        .filter(refresh_jobs::id.eq_any(ids))
        .select(RefreshJob::as_select())
        .load(conn)
        .await?)
}

/// The latest job of an instance, finished or not.
pub async fn latest_job(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
) -> Result<Option<RefreshJob>, StoreError> {
    Ok(refresh_jobs::table
        .filter(of_instance(instance))
        .order(refresh_jobs::seq.desc())
        .select(RefreshJob::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<RefreshJob>, StoreError> {
    Ok(refresh_jobs::table
        .find(id)
        .select(RefreshJob::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Claims up to `limit` jobs from the head of the queue, in one statement, plus up to
/// [`MAX_SIBLINGS_PER_CLAIM`] queued jobs of the same instance keys (identical requests,
/// fetched once with them; the rest wait for a later claim).
/// Each claimed job is running under a lease until now + `lease`, with its attempt
/// incremented. Returned in queue order.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    limit: usize,
    lease: Duration,
) -> Result<Vec<RefreshJob>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut jobs: Vec<RefreshJob> = diesel::sql_query(
        "WITH head AS (
             SELECT id, instance_key FROM refresh_jobs
             WHERE state = 'queued'
             ORDER BY front DESC, seq
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ),
         siblings AS (
             SELECT id FROM refresh_jobs
             WHERE state = 'queued'
               AND instance_key IN (SELECT instance_key FROM head)
               AND id NOT IN (SELECT id FROM head)
             ORDER BY seq
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         )
         UPDATE refresh_jobs AS j
         SET state = 'running',
             attempt = j.attempt + 1,
             lease_deadline = now() + $2,
             deferred_on = NULL
         WHERE j.id IN (SELECT id FROM head UNION ALL SELECT id FROM siblings)
         RETURNING j.*",
    )
    .bind::<BigInt, _>(limit as i64)
    .bind::<Interval, _>(interval(lease))
    .bind::<BigInt, _>(MAX_SIBLINGS_PER_CLAIM)
    .load(conn)
    .await?;
    jobs.sort_by_key(|job| (!job.front, job.seq));
    Ok(jobs)
}

/// Moves deferred jobs whose deferral has ended to the front of the queue (F3, F5).
pub async fn promote_due_deferred(conn: &mut AsyncPgConnection) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "UPDATE refresh_jobs SET state = 'queued', front = true, deferred_on = NULL
         WHERE id IN (
             SELECT id FROM refresh_jobs
             WHERE state = 'deferred' AND defer_until <= now()
             ORDER BY defer_until
             LIMIT 500
             FOR UPDATE SKIP LOCKED
         )",
    )
    .execute(conn)
    .await?)
}

/// Puts running jobs whose lease expired (their worker died or stalled) back at the front
/// of the queue, and drops the concurrency permits they held. The next claim increments
/// their attempt, so the old worker can no longer complete them.
pub async fn reclaim_expired_leases(conn: &mut AsyncPgConnection) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "WITH expired AS (
             UPDATE refresh_jobs SET state = 'queued', front = true, lease_deadline = NULL
             WHERE id IN (
                 SELECT id FROM refresh_jobs
                 WHERE state = 'running' AND lease_deadline < now()
                 ORDER BY lease_deadline
                 LIMIT 500
                 FOR UPDATE SKIP LOCKED
             )
             RETURNING id
         ),
         dropped AS (
             DELETE FROM api_permits WHERE job_id IN (SELECT id FROM expired)
         )
         SELECT id FROM expired",
    )
    .execute(conn)
    .await?)
}

/// Puts an instance's running job back at the front of the queue if its lease expired (its
/// worker died, or no replica runs workers to reclaim it), so that RefreshNow never answers
/// with a job that nobody runs. Returns whether there was one.
pub async fn reclaim_expired_lease_of(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
) -> Result<bool, StoreError> {
    let reclaimed = diesel::sql_query(
        "WITH expired AS (
             UPDATE refresh_jobs SET state = 'queued', front = true, lease_deadline = NULL
             WHERE data_source_id = $1 AND instance_key = $2
               AND state = 'running' AND lease_deadline < now()
             RETURNING id
         ),
         dropped AS (
             DELETE FROM api_permits WHERE job_id IN (SELECT id FROM expired)
         )
         SELECT id FROM expired",
    )
    .bind::<SqlUuid, _>(instance.data_source_id)
    .bind::<diesel::sql_types::Text, _>(&instance.instance_key)
    .execute(conn)
    .await?;
    Ok(reclaimed > 0)
}

#[derive(QueryableByName)]
struct Wakeup {
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    seconds: Option<f64>,
}

/// Seconds until a claim could find work without a notification: the earliest end of a
/// deferral or of a lease, by the database's clock. `None` when nothing is pending.
pub async fn next_wakeup(conn: &mut AsyncPgConnection) -> Result<Option<f64>, StoreError> {
    let row: Wakeup = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM LEAST(
             (SELECT min(defer_until) FROM refresh_jobs WHERE state = 'deferred'),
             (SELECT min(lease_deadline) FROM refresh_jobs WHERE state = 'running')
         ) - now())::float8 AS seconds",
    )
    .get_result(conn)
    .await?;
    Ok(row.seconds)
}

#[derive(QueryableByName)]
struct Renewed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Renews the leases (and the concurrency permits) a worker still holds; returns the jobs
/// whose lease is still this worker's.
pub async fn renew_leases(
    conn: &mut AsyncPgConnection,
    leases: &[Lease],
    lease: Duration,
) -> Result<Vec<Uuid>, StoreError> {
    let (ids, attempts) = lease_columns(leases);
    let renewed: Vec<Renewed> = diesel::sql_query(
        "WITH renewed AS (
             UPDATE refresh_jobs AS j SET lease_deadline = now() + $3
             FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
             WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'
             RETURNING j.id, j.attempt, j.lease_deadline
         ),
         permits AS (
             UPDATE api_permits AS p SET expires_at = renewed.lease_deadline
             FROM renewed
             WHERE p.job_id = renewed.id AND p.attempt = renewed.attempt
         )
         SELECT id FROM renewed",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .bind::<Interval, _>(interval(lease))
    .load(conn)
    .await?;
    Ok(renewed.into_iter().map(|r| r.id).collect())
}

/// Puts jobs this worker still holds back at the front of the queue, claimable at once, and
/// drops their concurrency permits: the worker is stopping. Returns how many it held.
pub async fn hand_back(
    conn: &mut AsyncPgConnection,
    leases: &[Lease],
) -> Result<usize, StoreError> {
    let (ids, attempts) = lease_columns(leases);
    Ok(diesel::sql_query(
        "WITH handed AS (
             UPDATE refresh_jobs AS j SET state = 'queued', front = true, lease_deadline = NULL
             FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
             WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'
             RETURNING j.id, j.attempt
         ),
         dropped AS (
             DELETE FROM api_permits AS p USING handed
             WHERE p.job_id = handed.id AND p.attempt = handed.attempt
         )
         SELECT id FROM handed",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .execute(conn)
    .await?)
}

/// Deletes finished jobs older than `retention`, a bounded number at a time.
pub async fn delete_finished_before(
    conn: &mut AsyncPgConnection,
    retention: Duration,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "DELETE FROM refresh_jobs WHERE id IN (
             SELECT id FROM refresh_jobs
             WHERE state IN ('succeeded', 'failed') AND finish_time < now() - $1
             LIMIT 1000
         )",
    )
    .bind::<Interval, _>(interval(retention))
    .execute(conn)
    .await?)
}
