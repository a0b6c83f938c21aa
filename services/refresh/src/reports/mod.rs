//! Scheduled email reports (F7; docs/refresh.md "Email reports").
//!
//! Every replica runs a report loop. Each pass turns the schedules whose lead time has
//! begun into deliveries (one per scheduled send, whichever replica gets there first), then
//! claims due delivery steps with `FOR UPDATE SKIP LOCKED` under a lease:
//!
//! - `prepare` (at the send time less the lead time): queue every data source of the
//!   report's Klips at the front of the queue, whatever the account's activity;
//! - `send` (at the send time): render the Klips through the library, build the email with
//!   the freshness of its data, send it over SMTP, record the delivery and move the schedule
//!   on; a send the relay did not take is retried with backoff.
//!
//! Between passes the loop sleeps until the next step is due (read from the database), a
//! schedule changes on this replica, or `report_interval` passes.
//!
//! - `prepare`, `send`: the two steps (`domain::plan` is what a delivery keeps between
//!   them, `domain::schedule` when a schedule sends).
//! - `email`, `mailer`: the message and the relay.

pub mod email;
pub mod mailer;
pub mod prepare;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tonic::Status;
use tracing::Instrument;
use trellis_platform::background::Background;
use trellis_platform::db;
use trellis_platform::db::DbPool;
use trellis_platform::error::StoreError;

use crate::domain::delivery::DeliveryStage;
use crate::domain::schedule::ScheduleDefinition;
use crate::peers::Peers;
use crate::settings::Settings;
use crate::store::rows::{ReportDelivery, ReportSchedule};
use crate::store::{deliveries, schedules};
use mailer::Mailer;

/// Delivery steps one replica claims per pass, at most.
const BATCH: i64 = 4;
/// Schedules turned into deliveries per pass, at most.
const START_PER_PASS: i64 = 100;
/// How late a send may become while the library does not answer before it is skipped.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(6);

/// What the report loop shares.
pub struct ReportContext {
    pub pool: DbPool,
    pub peers: Arc<Peers>,
    pub mailer: Mailer,
    pub settings: Settings,
}

/// Runs the report loop of one replica; `wake` makes it look at once.
pub async fn run(context: Arc<ReportContext>, wake: Arc<Notify>, background: Background) {
    let stop = background.token();
    // A pass in progress when the server stops finishes its steps (each is bounded by the
    // relay's timeout and fenced by its lease); no other starts.
    while !stop.is_cancelled() {
        let claimed = match pass(&context).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "report pass failed");
                0
            }
        };
        if claimed as i64 >= BATCH {
            continue;
        }
        let wait = next_wait(&context).await;
        tokio::select! {
            () = stop.cancelled() => {}
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn pass(context: &Arc<ReportContext>) -> anyhow::Result<usize> {
    let claimed = {
        let mut conn = context.pool.get().await?;
        let started = schedules::start_due_deliveries(&mut conn, START_PER_PASS).await?;
        if started > 0 {
            tracing::debug!(started, "report sends to prepare");
        }
        deliveries::claim_due(&mut conn, BATCH, context.settings.report_lease).await?
    };
    let count = claimed.len();
    futures::future::join_all(claimed.into_iter().map(|delivery| step(context, delivery))).await;
    Ok(count)
}

async fn step(context: &ReportContext, delivery: ReportDelivery) {
    let (name, result) = match delivery.stage {
        DeliveryStage::Prepare => {
            let span = tracing::info_span!(
                "report.prepare",
                schedule = %delivery.schedule_id,
                delivery = %delivery.id,
                scheduled_time = %delivery.scheduled_time,
            );
            (
                "preparing",
                prepare::prepare(context, delivery).instrument(span).await,
            )
        }
        DeliveryStage::Send => {
            let span = tracing::info_span!(
                "report.send",
                schedule = %delivery.schedule_id,
                delivery = %delivery.id,
                scheduled_time = %delivery.scheduled_time,
                attempt = delivery.attempts + 1,
            );
            (
                "sending",
                send::send(context, delivery).instrument(span).await,
            )
        }
        _ => return,
    };
    if let Err(error) = result {
        tracing::warn!(
            error = format!("{error:#}"),
            "{name} a report failed; another pass takes it up when its lease runs out"
        );
    }
}

async fn next_wait(context: &ReportContext) -> Duration {
    let longest = context.settings.report_interval;
    let Ok(mut conn) = context.pool.get().await else {
        return longest;
    };
    match deliveries::next_wakeup(&mut conn).await {
        Ok(Some(seconds)) => crate::domain::clock::seconds(seconds.max(0.001))
            .map_or(longest, |wait| wait.min(longest)),
        _ => longest,
    }
}

impl ReportContext {
    /// Ends a delivery that has nothing to send, and moves its schedule on.
    async fn skip(
        &self,
        delivery: &ReportDelivery,
        schedule: &ReportSchedule,
        why: &str,
    ) -> anyhow::Result<()> {
        tracing::info!(schedule = %schedule.id, delivery = %delivery.id, reason = why, "report skipped");
        let hold = delivery.hold();
        let scheduled = delivery.scheduled_time;
        let definition = ScheduleDefinition::from(schedule);
        let (next, prepare_at) =
            definition.timing(scheduled.max(Utc::now()), self.settings.report_lead_time);
        let schedule_id = schedule.id;
        let mut conn = self.pool.get().await?;
        db::transaction(&mut conn, async |conn| {
            if deliveries::skip(conn, hold, why).await? {
                schedules::advance(conn, schedule_id, scheduled, next, prepare_at, None).await?;
            }
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(())
    }

    /// The library did not answer: the step is tried again a little later, until the send
    /// is [`GIVE_UP_AFTER`] late; then it is skipped and the schedule moves on.
    async fn library_trouble(
        &self,
        delivery: &ReportDelivery,
        schedule: &ReportSchedule,
        status: &Status,
    ) -> anyhow::Result<()> {
        let message = format!("the library did not answer: {}", status.message());
        if Utc::now() - delivery.scheduled_time > GIVE_UP_AFTER {
            return self.skip(delivery, schedule, &message).await;
        }
        tracing::warn!(delivery = %delivery.id, code = ?status.code(), %message, "report step postponed");
        let again = crate::domain::clock::after(Utc::now(), self.settings.default_retry_after);
        let mut conn = self.pool.get().await?;
        deliveries::postpone(&mut conn, delivery.hold(), again, &message).await?;
        Ok(())
    }
}
