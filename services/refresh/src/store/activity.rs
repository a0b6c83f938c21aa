//! Activity per account (F2, F4).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Interval, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::jobs::interval;
use crate::store::schema::account_activity;

/// The activity state of an account after recording an activity.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Recorded {
    /// Until when it was active before this activity; `None` if never.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub previous_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub active_until: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub now: DateTime<Utc>,
}

impl Recorded {
    /// Whether the account was active when the activity happened.
    pub fn was_active(&self) -> bool {
        self.previous_until.is_some_and(|until| until > self.now)
    }
}

/// Records that `user` did `kind` in `account`: it stays active for `window` from now.
pub async fn record(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    user: &str,
    kind: &str,
    window: Duration,
) -> Result<Recorded, StoreError> {
    Ok(diesel::sql_query(
        "WITH previous AS (
             SELECT active_until FROM account_activity WHERE account_id = $1 FOR UPDATE
         ),
         recorded AS (
             INSERT INTO account_activity AS a
                 (account_id, active_until, last_activity_time, last_kind, last_user_id)
             VALUES ($1, now() + $4, now(), $3, $2)
             ON CONFLICT (account_id) DO UPDATE SET
                 active_until = GREATEST(a.active_until, EXCLUDED.active_until),
                 last_activity_time = EXCLUDED.last_activity_time,
                 last_kind = EXCLUDED.last_kind,
                 last_user_id = EXCLUDED.last_user_id
             RETURNING active_until
         )
         SELECT (SELECT active_until FROM previous) AS previous_until,
                (SELECT active_until FROM recorded) AS active_until,
                now() AS now",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<Text, _>(user)
    .bind::<Text, _>(kind)
    .bind::<Interval, _>(interval(window))
    .get_result(conn)
    .await?)
}

/// Takes the right to resolve `account`'s data sources for `user` now, unless a sync for
/// them was taken within `throttle`: true when this call may resolve.
pub async fn claim_sync(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    user: &str,
    throttle: Duration,
) -> Result<bool, StoreError> {
    let claimed = diesel::sql_query(
        "INSERT INTO activity_syncs AS s (account_id, user_id, synced_at)
         VALUES ($1, $2, now())
         ON CONFLICT (account_id, user_id) DO UPDATE SET synced_at = now()
         WHERE s.synced_at <= now() - $3",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<Text, _>(user)
    .bind::<Interval, _>(interval(throttle))
    .execute(conn)
    .await?;
    Ok(claimed > 0)
}

/// Forgets syncs older than `throttle`, a bounded number at a time: they throttle nothing
/// any more.
pub async fn forget_syncs_before(
    conn: &mut AsyncPgConnection,
    throttle: Duration,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "DELETE FROM activity_syncs WHERE (account_id, user_id) IN (
             SELECT account_id, user_id FROM activity_syncs
             WHERE synced_at < now() - $1
             LIMIT 1000
         )",
    )
    .bind::<Interval, _>(interval(throttle))
    .execute(conn)
    .await?)
}

/// Until when the account counts as active, if it was ever active.
pub async fn active_until(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(account_activity::table
        .find(account_id)
        .select(account_activity::active_until)
        .first(conn)
        .await
        .optional()?)
}

/// Marks the account's data sources as resolved through the library now.
pub async fn mark_synced(conn: &mut AsyncPgConnection, account_id: Uuid) -> Result<(), StoreError> {
    diesel::update(account_activity::table.find(account_id))
        .set(account_activity::synced_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Active accounts whose data sources were last resolved longer than `every` ago, with the
/// user whose activity was last recorded: the scheduler resolves them again so that new
/// data sources join the schedule.
pub async fn due_for_resync(
    conn: &mut AsyncPgConnection,
    every: Duration,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        account_id: Uuid,
        #[diesel(sql_type = Text)]
        last_user_id: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT account_id, last_user_id FROM account_activity
         WHERE active_until > now() AND (synced_at IS NULL OR synced_at < now() - $1)
         ORDER BY synced_at NULLS FIRST
         LIMIT $2",
    )
    .bind::<Interval, _>(interval(every))
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.account_id, row.last_user_id))
        .collect())
}
