//! API-limit state in PostgreSQL (F5): a row per limit key, locked while a worker decides,
//! and concurrency permits that expire with their holder's lease.
//!
//! Taking a permit and deferring are one transaction that holds the rows of every limit
//! key of the fetch (locked in key order, so two workers never deadlock), and releasing a
//! permit takes the same lock: a job that finds a cap full is deferred before any release
//! can look for it, so the release that frees its permit promotes it. A page after the
//! first of a fetch takes the next slot of every rate under the same locks
//! ([`take_page_slot`]), and a job's time deferred by a limit is added to its
//! `limit_wait_us` when it is granted.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::db;
use trellis_platform::error::StoreError;

use crate::domain::job::Lease;
use crate::domain::limits::{Decision, KeyState, LimitSpec, decide, page_slot};
use crate::store::lease_columns;

/// The outcome of asking for a permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// Send now; release the permit when the fetch is over.
    Granted,
    /// The jobs were deferred until `until`; they return to the front of the queue then.
    Deferred { until: DateTime<Utc> },
    /// The holder's lease is gone: another worker has the job now.
    LeaseLost,
}

#[derive(QueryableByName)]
struct LockedKey {
    #[diesel(sql_type = Text)]
    limit_key: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    tat: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    deferred_until: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct PermitCount {
    #[diesel(sql_type = Text)]
    limit_key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    permits: i64,
    #[diesel(sql_type = Timestamptz)]
    earliest_expiry: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Timestamptz)]
    lease_deadline: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// The slot of a page after the first (see [`take_page_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSlot {
    /// The slot is taken: send the page once `wait` has passed (zero: at once).
    Taken { wait: Duration },
    /// The next slot is `wait` away, more than the caller may wait: nothing is taken.
    TooFar { wait: Duration },
}

/// Takes the next slot of every rate of `specs` for a page of a fetch that holds its
/// permits already (no new permit: its cap is the fetch's), when it is at most `max_wait`
/// away. The slot is reserved at once (the rates' arrival times move past it), so the
/// caller waits for it without holding any lock, and no other request takes it meanwhile.
pub async fn take_page_slot(
    conn: &mut AsyncPgConnection,
    specs: &[LimitSpec],
    max_wait: Duration,
) -> Result<PageSlot, StoreError> {
    let rates: Vec<LimitSpec> = specs
        .iter()
        .filter(|s| s.emission_interval.is_some())
        .cloned()
        .collect();
    if rates.is_empty() {
        return Ok(PageSlot::Taken {
            wait: Duration::ZERO,
        });
    }
    db::transaction(conn, async |conn| {
        let (now, limits) = lock_limits(conn, &rates).await?;
        let (start, tats) = page_slot(now, &limits);
        let wait = (start - now).to_std().unwrap_or_default();
        if wait > max_wait {
            return Ok(PageSlot::TooFar { wait });
        }
        for (key, tat) in tats {
            set_key_time(conn, KeyTime::Tat, &key, tat, now).await?;
        }
        Ok(PageSlot::Taken { wait })
    })
    .await
}

/// Takes a permit of every limit in `specs` for the fetch of `group` (jobs fetched together,
/// the permit held under `holder`), or defers every job of the group until one is free.
/// `returning` is true when the holder was deferred before (see [`decide`]).
pub async fn acquire_or_defer(
    conn: &mut AsyncPgConnection,
    holder: Lease,
    group: &[Lease],
    specs: &[LimitSpec],
    returning: bool,
) -> Result<Permit, StoreError> {
    db::transaction(conn, async |conn| {
        let (ids, attempts) = lease_columns(group);
        let Some(holder_deadline) = lock_held(conn, holder, &ids, &attempts).await? else {
            return Ok(Permit::LeaseLost);
        };
        let (now, limits) = lock_limits(conn, specs).await?;
        match decide(now, &limits, returning) {
            Decision::Grant { tats, permits } => {
                count_limit_wait(conn, &ids, &attempts, now).await?;
                for (key, tat) in tats {
                    set_key_time(conn, KeyTime::Tat, &key, tat, now).await?;
                }
                for key in permits {
                    diesel::sql_query(
                        "INSERT INTO api_permits (limit_key, job_id, attempt, expires_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (limit_key, job_id) DO UPDATE
                         SET attempt = EXCLUDED.attempt, expires_at = EXCLUDED.expires_at",
                    )
                    .bind::<Text, _>(key)
                    .bind::<SqlUuid, _>(holder.job_id)
                    .bind::<Integer, _>(holder.attempt)
                    .bind::<Timestamptz, _>(holder_deadline)
                    .execute(conn)
                    .await?;
                }
                Ok(Permit::Granted)
            }
            Decision::Defer {
                until,
                promised,
                waiting_on,
            } => {
                for (key, slot) in promised {
                    set_key_time(conn, KeyTime::DeferredUntil, &key, slot, now).await?;
                }
                diesel::sql_query(
                    "UPDATE refresh_jobs AS j SET limit_deferred_at = COALESCE(j.limit_deferred_at, $3)
                     FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
                     WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'",
                )
                .bind::<Array<SqlUuid>, _>(&ids)
                .bind::<Array<Integer>, _>(&attempts)
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
                defer_held(conn, &ids, &attempts, until, waiting_on.as_deref()).await?;
                Ok(Permit::Deferred { until })
            }
        }
    })
    .await
}

/// Adds the time since a limit first deferred them (`limit_deferred_at`) to the waits of the
/// group's jobs, now that they are granted (fetch observability).
async fn count_limit_wait(
    conn: &mut AsyncPgConnection,
    ids: &[uuid::Uuid],
    attempts: &[i32],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "UPDATE refresh_jobs AS j
         SET limit_wait_us = j.limit_wait_us
                 + GREATEST(0, (extract(epoch FROM $3 - j.limit_deferred_at) * 1000000)::bigint),
             limit_deferred_at = NULL
         FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
         WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'
           AND j.limit_deferred_at IS NOT NULL",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the jobs of a group still leased under these attempts (fencing: only those are
/// touched); answers the holder's lease deadline, `None` when the holder lost its lease.
async fn lock_held(
    conn: &mut AsyncPgConnection,
    holder: Lease,
    ids: &[uuid::Uuid],
    attempts: &[i32],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let held: Vec<Held> = diesel::sql_query(
        "SELECT j.id, j.lease_deadline FROM refresh_jobs j
         JOIN unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
           ON j.id = mine.id AND j.attempt = mine.attempt
         WHERE j.state = 'running'
         ORDER BY j.id
         FOR UPDATE OF j",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .load(conn)
    .await?;
    Ok(held
        .iter()
        .find(|h| h.id == holder.job_id)
        .map(|h| h.lease_deadline))
}

/// Locks the rows of every limit key of `specs` (creating them, in key order) and answers
/// the time, read once the locks are held, with each limit's state: its rates' times and
/// its unexpired permits (expired ones are dropped).
async fn lock_limits(
    conn: &mut AsyncPgConnection,
    specs: &[LimitSpec],
) -> Result<(DateTime<Utc>, Vec<(LimitSpec, KeyState)>), StoreError> {
    let keys: Vec<String> = specs.iter().map(|s| s.key.clone()).collect();
    diesel::sql_query(
        "INSERT INTO api_limits (limit_key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(&keys)
    .execute(conn)
    .await?;
    let locked: Vec<LockedKey> = diesel::sql_query(
        "SELECT limit_key, tat, deferred_until FROM api_limits
         WHERE limit_key = ANY($1) ORDER BY limit_key FOR UPDATE",
    )
    .bind::<Array<Text>, _>(&keys)
    .load(conn)
    .await?;
    // The time is read after the locks are held: a decision waits for the previous one to
    // commit and then sees its result and the real time.
    let now = diesel::sql_query("SELECT clock_timestamp() AS now")
        .get_result::<Now>(conn)
        .await?
        .now;
    diesel::sql_query("DELETE FROM api_permits WHERE limit_key = ANY($1) AND expires_at < $2")
        .bind::<Array<Text>, _>(&keys)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await?;
    let counts: HashMap<String, PermitCount> = diesel::sql_query(
        "SELECT limit_key, count(*) AS permits, min(expires_at) AS earliest_expiry
         FROM api_permits WHERE limit_key = ANY($1) GROUP BY limit_key",
    )
    .bind::<Array<Text>, _>(&keys)
    .load::<PermitCount>(conn)
    .await?
    .into_iter()
    .map(|c| (c.limit_key.clone(), c))
    .collect();
    let states: HashMap<String, LockedKey> = locked
        .into_iter()
        .map(|l| (l.limit_key.clone(), l))
        .collect();
    let limits = specs
        .iter()
        .map(|spec| {
            let row = states.get(&spec.key);
            let count = counts.get(&spec.key);
            let state = KeyState {
                tat: row.and_then(|r| r.tat),
                deferred_until: row.and_then(|r| r.deferred_until),
                permits: count.map_or(0, |c| c.permits as u32),
                earliest_expiry: count.map(|c| c.earliest_expiry),
            };
            (spec.clone(), state)
        })
        .collect();
    Ok((now, limits))
}

/// A time of a limit key's row.
#[derive(Clone, Copy)]
enum KeyTime {
    /// When the next request may start (GCRA).
    Tat,
    /// The start slot promised to the last job the rate deferred.
    DeferredUntil,
}

/// Sets one of a limit key's times.
async fn set_key_time(
    conn: &mut AsyncPgConnection,
    which: KeyTime,
    key: &str,
    time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let statement = match which {
        KeyTime::Tat => "UPDATE api_limits SET tat = $2, updated_at = $3 WHERE limit_key = $1",
        KeyTime::DeferredUntil => {
            "UPDATE api_limits SET deferred_until = $2, updated_at = $3 WHERE limit_key = $1"
        }
    };
    diesel::sql_query(statement)
        .bind::<Text, _>(key)
        .bind::<Timestamptz, _>(time)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Defers the still-held jobs among `ids`/`attempts` until `until`.
pub async fn defer_held(
    conn: &mut AsyncPgConnection,
    ids: &[uuid::Uuid],
    attempts: &[i32],
    until: DateTime<Utc>,
    waiting_on: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "UPDATE refresh_jobs AS j
         SET state = 'deferred', defer_until = $3, deferred_on = $4, front = true,
             lease_deadline = NULL
         FROM unnest($1::uuid[], $2::int4[]) AS mine(id, attempt)
         WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = 'running'",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .bind::<Timestamptz, _>(until)
    .bind::<Nullable<Text>, _>(waiting_on)
    .execute(conn)
    .await?)
}

/// Releases the permits `holder` took, and for every cap that now has room promotes the
/// earliest job waiting on it to the front of the queue. Runs inside the caller's
/// transaction.
pub async fn release(conn: &mut AsyncPgConnection, holder: Lease) -> Result<(), StoreError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        limit_key: String,
    }
    let keys: Vec<Key> = diesel::sql_query(
        "SELECT limit_key FROM api_limits
         WHERE limit_key IN (SELECT limit_key FROM api_permits WHERE job_id = $1)
         ORDER BY limit_key FOR UPDATE",
    )
    .bind::<SqlUuid, _>(holder.job_id)
    .load(conn)
    .await?;
    if keys.is_empty() {
        return Ok(());
    }
    let released: Vec<Key> = diesel::sql_query(
        "DELETE FROM api_permits WHERE job_id = $1 AND attempt = $2 RETURNING limit_key",
    )
    .bind::<SqlUuid, _>(holder.job_id)
    .bind::<Integer, _>(holder.attempt)
    .load(conn)
    .await?;
    for key in released {
        diesel::sql_query(
            "UPDATE refresh_jobs SET state = 'queued', front = true, deferred_on = NULL
             WHERE id = (
                 SELECT id FROM refresh_jobs
                 WHERE state = 'deferred' AND deferred_on = $1
                 ORDER BY seq LIMIT 1
                 FOR UPDATE SKIP LOCKED
             )",
        )
        .bind::<Text, _>(key.limit_key)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// After an API answered 429: no request of these limit keys starts before `until`.
pub async fn hold_back(
    conn: &mut AsyncPgConnection,
    keys: &[String],
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO api_limits AS l (limit_key, tat) SELECT unnest($1::text[]), $2
         ON CONFLICT (limit_key) DO UPDATE
         SET tat = GREATEST(l.tat, EXCLUDED.tat), updated_at = now()",
    )
    .bind::<Array<Text>, _>(keys)
    .bind::<Timestamptz, _>(until)
    .execute(conn)
    .await?;
    Ok(())
}
