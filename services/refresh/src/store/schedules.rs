//! Report schedules (F7): their rows, and the report loop's first step, which turns a
//! schedule whose lead time has begun into a delivery to prepare.

use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::delivery::DeliveryStage;
use crate::store::rows::ReportSchedule;
use crate::store::schema::{report_deliveries, report_schedules};

/// The account's schedules, counted under a transaction-scoped lock of the account's
/// schedule list, so that creates of one account are counted one after another.
pub async fn count_locked(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('report_schedules:' || $1::text, 0))",
    )
    .bind::<SqlUuid, _>(account_id)
    .execute(conn)
    .await?;
    let counted: Count =
        diesel::sql_query("SELECT count(*) AS count FROM report_schedules WHERE account_id = $1")
            .bind::<SqlUuid, _>(account_id)
            .get_result(conn)
            .await?;
    Ok(counted.count)
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    schedule: &ReportSchedule,
) -> Result<ReportSchedule, StoreError> {
    Ok(diesel::insert_into(report_schedules::table)
        .values(schedule)
        .returning(ReportSchedule::as_returning())
        .get_result(conn)
        .await?)
}

/// The schedule `id` if it is `account_id`'s.
type OfAccount = dsl::Filter<
    dsl::Find<report_schedules::table, Uuid>,
    dsl::Eq<report_schedules::account_id, Uuid>,
>;

fn of_account(account_id: Uuid, id: Uuid) -> OfAccount {
    report_schedules::table
        .find(id)
        .filter(report_schedules::account_id.eq(account_id))
}

/// An account's schedule (none when the id is another account's).
pub async fn get(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    id: Uuid,
) -> Result<Option<ReportSchedule>, StoreError> {
    let found = find(conn, id).await?;
    Ok(found.filter(|schedule| schedule.account_id == account_id))
}

/// An account's schedule, locked until the transaction ends (read-modify-write).
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    id: Uuid,
) -> Result<Option<ReportSchedule>, StoreError> {
    Ok(of_account(account_id, id)
        .select(ReportSchedule::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// A schedule by id alone, for the report loop.
pub async fn find(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<ReportSchedule>, StoreError> {
    Ok(report_schedules::table
        .find(id)
        .select(ReportSchedule::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A page of an account's schedules in creation order, after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReportSchedule>, StoreError> {
    let mut query = report_schedules::table
        .filter(report_schedules::account_id.eq(account_id))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(report_schedules::id.gt(after));
    }
    Ok(query
        .order(report_schedules::id.asc())
        .limit(limit)
        .select(ReportSchedule::as_select())
        .load(conn)
        .await?)
}

/// Writes every caller-set field, the recomputed timing and the new version.
pub async fn replace(
    conn: &mut AsyncPgConnection,
    schedule: &ReportSchedule,
) -> Result<ReportSchedule, StoreError> {
    use crate::store::schema::report_schedules::dsl::*;
    Ok(diesel::update(report_schedules.find(schedule.id))
        .set((
            name.eq(&schedule.name),
            cron_expression.eq(&schedule.cron_expression),
            time_zone.eq(&schedule.time_zone),
            recipients.eq(&schedule.recipients),
            klip_ids.eq(&schedule.klip_ids),
            dashboard_id.eq(schedule.dashboard_id),
            lead_time_ms.eq(schedule.lead_time_ms),
            user_id.eq(&schedule.user_id),
            paused.eq(schedule.paused),
            next_send_time.eq(schedule.next_send_time),
            prepare_at.eq(schedule.prepare_at),
            version.eq(schedule.version),
            update_time.eq(diesel::dsl::now),
        ))
        .returning(ReportSchedule::as_returning())
        .get_result(conn)
        .await?)
}

/// Deletes an account's schedule; its deliveries go with it (`ON DELETE CASCADE`).
pub async fn delete(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    id: Uuid,
) -> Result<(), StoreError> {
    diesel::delete(of_account(account_id, id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Drops the schedule's deliveries that were never handed to the relay: after a change of
/// its timing or target they no longer describe a send the schedule calls for.
pub async fn discard_unsent(
    conn: &mut AsyncPgConnection,
    schedule_id: Uuid,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        report_deliveries::table
            .filter(report_deliveries::schedule_id.eq(schedule_id))
            .filter(report_deliveries::attempts.eq(0))
            .filter(report_deliveries::stage.ne(DeliveryStage::Done)),
    )
    .execute(conn)
    .await?)
}

/// Turns up to `limit` schedules whose lead time has begun into deliveries to prepare, one
/// per scheduled send (the unique key makes a second replica's attempt a no-op), and marks
/// them prepared. Returns how many deliveries were created.
pub async fn start_due_deliveries(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "WITH due AS (
             SELECT id, account_id, next_send_time FROM report_schedules
             WHERE prepare_at <= now() AND NOT paused AND next_send_time IS NOT NULL
             ORDER BY prepare_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         ),
         marked AS (
             UPDATE report_schedules AS s SET prepare_at = NULL FROM due WHERE s.id = due.id
         )
         INSERT INTO report_deliveries
             (id, schedule_id, account_id, scheduled_time, stage, status, due_at)
         SELECT gen_random_uuid(), due.id, due.account_id, due.next_send_time,
                'prepare', 'refreshing', now()
         FROM due
         ON CONFLICT (schedule_id, scheduled_time) DO NOTHING",
    )
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await?)
}

/// Moves a schedule on to its next send after the send of `scheduled_time` was made (or
/// skipped), unless the schedule changed meanwhile. `sent_at` records a successful send.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    schedule_id: Uuid,
    scheduled_time: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    prepare_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let changed = diesel::sql_query(
        "UPDATE report_schedules
         SET next_send_time = $3, prepare_at = $4,
             last_send_time = GREATEST(last_send_time, $5)
         WHERE id = $1 AND next_send_time = $2",
    )
    .bind::<SqlUuid, _>(schedule_id)
    .bind::<Timestamptz, _>(scheduled_time)
    .bind::<Nullable<Timestamptz>, _>(next)
    .bind::<Nullable<Timestamptz>, _>(prepare_at)
    .bind::<Nullable<Timestamptz>, _>(sent_at)
    .execute(conn)
    .await?;
    Ok(changed > 0)
}

/// Records a send made on a retry, after the schedule has moved on.
pub async fn record_late_send(
    conn: &mut AsyncPgConnection,
    schedule_id: Uuid,
    sent_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "UPDATE report_schedules SET last_send_time = GREATEST(last_send_time, $2) WHERE id = $1",
    )
    .bind::<SqlUuid, _>(schedule_id)
    .bind::<Timestamptz, _>(sent_at)
    .execute(conn)
    .await?;
    Ok(())
}
