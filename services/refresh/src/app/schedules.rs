//! The report schedule use cases (F7): checking a schedule, creating, changing and deleting
//! it, and reading schedules and their deliveries.
//!
//! A schedule is checked whole at save: its cron expression, time zone, recipients and lead
//! time, and its Klips or dashboard, which must be the account's (asked of the library with
//! a service token; an id of another tenant gets the same answer as an id that does not
//! exist). A change is made against the etag the caller read (AIP-154).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::StreamExt;
use trellis_platform::auth::Caller;
use trellis_platform::db::{DbPool, connect};
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::{etag, peer};
use uuid::Uuid;

use crate::domain::schedule::{MAX_KLIPS, ScheduleDefinition, Target};
use crate::peers::Peers;
use crate::reports::prepare::is_gone;
use crate::settings::Settings;
use crate::store::rows::{ReportDelivery, ReportSchedule};
use crate::store::{deliveries, schedules};

/// Library calls made at once while checking a schedule's Klips.
const CHECK_CONCURRENCY: usize = 8;

/// Checks `definition` for `account` before it is saved. `changed` names the fields the
/// call sets (every one for a new schedule): the cron expression's interval, the user and
/// the Klips or dashboard are checked only when set. `violations` holds what reading the
/// request found already.
pub async fn check(
    peers: &Arc<Peers>,
    settings: &Settings,
    caller: &Caller,
    account: Uuid,
    definition: &ScheduleDefinition,
    changed: impl Fn(&str) -> bool,
    mut violations: Violations,
) -> ApiResult<()> {
    definition.check(&mut violations);
    if changed("cron_expression") {
        definition.check_interval(settings.report_min_interval, &mut violations);
    }
    if changed("user_id") {
        check_user(caller, &definition.user_id)?;
    }
    if changed("klips") || changed("dashboard_id") {
        check_target(peers, account, &definition.target, &mut violations).await?;
    }
    violations.into_result()
}

/// The values of another user render a report only when a service sets it up, as the
/// library allows another user's values only to services.
fn check_user(caller: &Caller, user_id: &str) -> ApiResult<()> {
    if user_id.is_empty() || caller.is_service() || user_id == caller.user() {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "a schedule may render with another user's values only when a service sets it".into(),
        ))
    }
}

/// Adds a violation for every Klip or dashboard that is not the account's. The library
/// answers the same for another tenant's ids and for ids that do not exist, and so does
/// this.
async fn check_target(
    peers: &Arc<Peers>,
    account: Uuid,
    target: &Target,
    violations: &mut Violations,
) -> ApiResult<()> {
    let library = peer::upstream("library");
    match target {
        // Refused by its length already: no library call per id of a list of thousands.
        Target::Klips(ids) if ids.len() > MAX_KLIPS => {}
        Target::Klips(ids) => {
            let answers = futures::stream::iter(ids.iter().copied().enumerate())
                .map(|(index, id)| async move { (index, peers.klip(id, account).await) })
                .buffered(CHECK_CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            for (index, answer) in answers {
                match answer {
                    Ok(_) => {}
                    Err(status) if is_gone(&status) => violations.add(
                        format!("schedule.klips.klip_ids[{index}]"),
                        "no Klip with this id in the account",
                    ),
                    Err(status) => return Err(library(status)),
                }
            }
        }
        Target::Dashboard(id) if id.is_nil() => {}
        Target::Dashboard(id) => match peers.dashboard(*id, account).await {
            Ok(_) => {}
            Err(status) if is_gone(&status) => violations.add(
                "schedule.dashboard_id",
                "no dashboard with this id in the account",
            ),
            Err(status) => return Err(library(status)),
        },
    }
    Ok(())
}

/// Creates a checked schedule, within the account's quota of schedules.
pub async fn create(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    account: Uuid,
    definition: &ScheduleDefinition,
) -> ApiResult<ReportSchedule> {
    let now = Utc::now();
    let timing = definition.timing(now, settings.report_lead_time);
    let row = ReportSchedule::new(account, definition, timing, now);
    // Counted under a lock of the account's schedules, so that concurrent creates cannot
    // pass the quota together.
    let quota = settings.report_max_schedules;
    let existing = schedules::count_locked(conn, account).await?;
    if existing >= i64::from(quota) {
        return Err(ApiError::ResourceExhausted {
            message: format!(
                "account {account} has {existing} report schedules, the most an account may have ({quota}); delete one before creating another"
            ),
            retry_after: None,
        });
    }
    Ok(schedules::insert(conn, &row).await?)
}

/// A change of a schedule, checked.
pub struct Change {
    /// The schedule as it is to be, every field.
    pub definition: ScheduleDefinition,
    /// The etag the change was made against; empty for none.
    pub etag: String,
    /// A new timing or target replaces the next send (and any prepared, unsent one).
    pub retime: bool,
}

/// Writes `change` over the schedule, if it still has the etag the caller read.
pub async fn update(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    account: Uuid,
    id: Uuid,
    change: &Change,
) -> ApiResult<ReportSchedule> {
    let current = locked(conn, account, id, &change.etag).await?;
    let mut row = ReportSchedule {
        version: current.version + 1,
        ..current
    };
    row.define(&change.definition);
    if change.retime {
        (row.next_send_time, row.prepare_at) = change
            .definition
            .timing(Utc::now(), settings.report_lead_time);
        schedules::discard_unsent(conn, id).await?;
    }
    Ok(schedules::replace(conn, &row).await?)
}

/// Deletes the schedule (and its deliveries), if it still has the etag the caller read.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    sent_etag: &str,
) -> ApiResult<()> {
    locked(conn, account, id, sent_etag).await?;
    schedules::delete(conn, account, id).await?;
    Ok(())
}

/// The schedule, locked until the transaction ends, when `sent_etag` still matches it.
async fn locked(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    sent_etag: &str,
) -> ApiResult<ReportSchedule> {
    let current = schedules::get_for_update(conn, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    etag::require(sent_etag, &current.etag(), "schedule")?;
    Ok(current)
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found("report schedule", id)
}

/// A schedule of the account.
pub async fn get(pool: &DbPool, account: Uuid, id: Uuid) -> ApiResult<ReportSchedule> {
    let mut conn = connect(pool).await?;
    schedules::get(&mut conn, account, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// A page of the account's schedules, in creation order, after `after`.
pub async fn list(
    pool: &DbPool,
    account: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> ApiResult<Vec<ReportSchedule>> {
    let mut conn = connect(pool).await?;
    Ok(schedules::list(&mut conn, account, after, limit).await?)
}

/// A page of a schedule's deliveries, latest first, before `before`.
pub async fn deliveries(
    pool: &DbPool,
    account: Uuid,
    id: Uuid,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> ApiResult<Vec<ReportDelivery>> {
    let mut conn = connect(pool).await?;
    if schedules::get(&mut conn, account, id).await?.is_none() {
        return Err(not_found(id));
    }
    Ok(deliveries::list(&mut conn, id, before, limit).await?)
}
