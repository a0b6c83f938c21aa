//! Report deliveries: the report loop's queue (F7). A due step (prepare, send, retry) is
//! claimed in one statement with `FOR UPDATE SKIP LOCKED` under a lease, so any number of
//! replicas share the work and none waits for another; `claim` grows with every claim and
//! every later write is conditional on it (fencing), so a replica that lost its lease
//! changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Interval, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::delivery::{DeliveryHold, DeliveryStage, DeliveryStatus};
use crate::store::jobs::interval;
use crate::store::rows::ReportDelivery;
use crate::store::schema::report_deliveries::dsl::*;

/// Claims up to `limit` deliveries whose next step is due and that no live lease holds.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> Result<Vec<ReportDelivery>, StoreError> {
    Ok(diesel::sql_query(
        "UPDATE report_deliveries AS d
         SET lease_until = now() + $2, claim = d.claim + 1
         WHERE d.id IN (
             SELECT id FROM report_deliveries
             WHERE stage <> 'done' AND due_at <= now()
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY due_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         )
         RETURNING d.*",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Interval, _>(interval(lease))
    .load(conn)
    .await?)
}

#[derive(QueryableByName)]
struct Wakeup {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// Seconds until report work is due, by the database's clock: a schedule's lead time
/// beginning, a delivery's step, or a lease running out. `None` when nothing is pending.
pub async fn next_wakeup(conn: &mut AsyncPgConnection) -> Result<Option<f64>, StoreError> {
    let row: Wakeup = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM LEAST(
             (SELECT min(prepare_at) FROM report_schedules WHERE prepare_at IS NOT NULL),
             (SELECT min(GREATEST(due_at, COALESCE(lease_until, due_at)))
              FROM report_deliveries WHERE stage <> 'done')
         ) - now())::float8 AS seconds",
    )
    .get_result(conn)
    .await?;
    Ok(row.seconds)
}

fn held(
    hold: DeliveryHold,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<crate::store::schema::report_deliveries::table, Uuid>,
    diesel::dsl::Eq<claim, i32>,
> {
    crate::store::schema::report_deliveries::table
        .find(hold.id)
        .filter(claim.eq(hold.claim))
}

/// Locks the delivery until the transaction ends, if the claim is still `hold`'s.
pub async fn lock_held(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
) -> Result<bool, StoreError> {
    Ok(held(hold)
        .select(id)
        .for_update()
        .first::<Uuid>(conn)
        .await
        .optional()?
        .is_some())
}

/// Records the preparation: the plan, and that the send is due at `send_at`. Returns false
/// when the claim was lost.
pub async fn prepared(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
    report_plan: serde_json::Value,
    send_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(held(hold))
        .set((
            stage.eq(DeliveryStage::Send),
            plan.eq(Some(report_plan)),
            prepared_at.eq(Some(Utc::now())),
            due_at.eq(send_at),
            refresh_deadline.eq(Some(deadline)),
            lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// Gives the delivery back to the queue, due again at `at`, without changing its stage.
pub async fn postpone(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
    at: DateTime<Utc>,
    why: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(held(hold))
        .set((
            due_at.eq(at),
            error.eq(why),
            lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// Keeps the email as built for the first attempt, with its recipients and stale data.
pub async fn store_message(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
    email: &[u8],
    to: &[String],
    stale: serde_json::Value,
) -> Result<bool, StoreError> {
    let changed = diesel::update(held(hold))
        .set((
            message.eq(Some(email)),
            recipients.eq(to),
            stale_data_sources.eq(stale),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// How one attempt to hand the report to the relay ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Sent {
        at: DateTime<Utc>,
    },
    /// Refused or unreachable; tried again at `retry_at`, or never.
    Failed {
        message: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Records an attempt. Returns false when the claim was lost.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
    attempt: &Attempt,
) -> Result<bool, StoreError> {
    let changed = match attempt {
        Attempt::Sent { at } => {
            diesel::update(held(hold))
                .set((
                    stage.eq(DeliveryStage::Done),
                    status.eq(DeliveryStatus::Sent),
                    attempts.eq(attempts + 1),
                    send_time.eq(Some(*at)),
                    error.eq(""),
                    lease_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)
                .await?
        }
        Attempt::Failed {
            message: why,
            retry_at,
        } => {
            diesel::update(held(hold))
                .set((
                    stage.eq(if retry_at.is_some() {
                        DeliveryStage::Send
                    } else {
                        DeliveryStage::Done
                    }),
                    status.eq(DeliveryStatus::Failed),
                    attempts.eq(attempts + 1),
                    due_at.eq(retry_at.unwrap_or_else(Utc::now)),
                    error.eq(why),
                    lease_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(changed > 0)
}

/// Ends a delivery without sending it, saying why.
pub async fn skip(
    conn: &mut AsyncPgConnection,
    hold: DeliveryHold,
    why: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(held(hold))
        .set((
            stage.eq(DeliveryStage::Done),
            status.eq(DeliveryStatus::Skipped),
            error.eq(why),
            lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// A page of a schedule's deliveries, newest first, scheduled before `before`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    schedule: Uuid,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<ReportDelivery>, StoreError> {
    let mut query = crate::store::schema::report_deliveries::table
        .filter(schedule_id.eq(schedule))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(scheduled_time.lt(before));
    }
    Ok(query
        .order(scheduled_time.desc())
        .limit(limit)
        .select(ReportDelivery::as_select())
        .load(conn)
        .await?)
}
