//! Sending a delivery at its scheduled time (F7): find which of its data sources were not
//! refreshed (their refresh failed, was deferred, or has not finished), render every Klip
//! through the library's RenderKlip, build the email and hand it to the relay. The email
//! is kept with the delivery before the first attempt, so a retry after a refused or failed
//! send (with backoff) resends exactly the same message. The first attempt, whatever its
//! outcome, moves the schedule on to its next send.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::StreamExt;
use tonic::Status;
use trellis_platform::db;
use trellis_platform::error::StoreError;

use super::ReportContext;
use super::email::{KlipSection, Report};
use super::prepare::is_gone;
use crate::domain::job::{InstanceId, JobState};
use crate::domain::plan::{ReportPlan, StaleSource, stale_to_json};
use crate::domain::schedule::ScheduleDefinition;
use crate::store::deliveries::{self, Attempt};
use crate::store::rows::{ReportDelivery, ReportSchedule};
use crate::store::{instances, jobs, schedules};

/// Klips rendered at once for one report.
const RENDER_CONCURRENCY: usize = 4;
/// Characters of a failed refresh's error quoted in a report, at most.
const MAX_REASON_CHARS: usize = 300;

pub async fn send(context: &ReportContext, delivery: ReportDelivery) -> anyhow::Result<()> {
    let hold = delivery.hold();
    let Some(schedule) = ({
        let mut conn = context.pool.get().await?;
        schedules::find(&mut conn, delivery.schedule_id).await?
    }) else {
        return Ok(());
    };

    let (recipients, message) = match &delivery.message {
        Some(message) => (delivery.recipients.clone(), message.clone()),
        None => {
            if schedule.paused || schedule.next_send_time != Some(delivery.scheduled_time) {
                let mut conn = context.pool.get().await?;
                deliveries::skip(
                    &mut conn,
                    hold,
                    "the schedule was paused or changed before this send",
                )
                .await?;
                return Ok(());
            }
            match build(context, &delivery, &schedule).await? {
                Some(built) => built,
                None => return Ok(()),
            }
        }
    };

    let outcome = context.mailer.send(&recipients, &message).await;
    let now = Utc::now();
    let attempt = match outcome {
        Ok(()) => Attempt::Sent { at: now },
        Err(error) => {
            let failed = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
            let retry_at = (!error.permanent)
                .then(|| context.settings.report_send_retries.after(failed))
                .flatten()
                .map(|wait| crate::domain::clock::after(now, wait));
            Attempt::Failed {
                message: format!("the mail relay did not take the report: {}", error.message),
                retry_at,
            }
        }
    };
    record(
        context,
        &delivery,
        &schedule,
        recipients.len(),
        attempt,
        now,
    )
    .await
}

/// Records an attempt to send `delivery` (to `recipients` addresses) and, after its first
/// attempt, moves the schedule on to its next send.
async fn record(
    context: &ReportContext,
    delivery: &ReportDelivery,
    schedule: &ReportSchedule,
    recipients: usize,
    attempt: Attempt,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let hold = delivery.hold();
    match &attempt {
        Attempt::Sent { .. } => tracing::info!(
            schedule = %schedule.id,
            delivery = %delivery.id,
            recipients,
            attempt = delivery.attempts + 1,
            "report sent"
        ),
        Attempt::Failed { message, retry_at } => tracing::warn!(
            schedule = %schedule.id,
            delivery = %delivery.id,
            attempt = delivery.attempts + 1,
            retry_at = ?retry_at,
            %message,
            "report not sent"
        ),
    }

    let definition = ScheduleDefinition::from(schedule);
    let first = delivery.attempts == 0;
    let scheduled = delivery.scheduled_time;
    let default_lead = context.settings.report_lead_time;
    let mut conn = context.pool.get().await?;
    db::transaction(&mut conn, async |conn| {
        if !deliveries::record_attempt(conn, hold, &attempt).await? {
            return Ok(());
        }
        let sent_at = match attempt {
            Attempt::Sent { at } => Some(at),
            Attempt::Failed { .. } => None,
        };
        if first {
            let (next, prepare_at) = definition.timing(scheduled.max(now), default_lead);
            schedules::advance(conn, schedule.id, scheduled, next, prepare_at, sent_at).await?;
        } else if let Some(at) = sent_at {
            schedules::record_late_send(conn, schedule.id, at).await?;
        }
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(())
}

/// Renders the report and keeps the email with the delivery. `None` when the send is not
/// to be made now (postponed, skipped, or the claim was lost).
async fn build(
    context: &ReportContext,
    delivery: &ReportDelivery,
    schedule: &ReportSchedule,
) -> anyhow::Result<Option<(Vec<String>, Vec<u8>)>> {
    let hold = delivery.hold();
    let plan = ReportPlan::from_json(delivery.plan.as_ref());
    let prepared_at = delivery.prepared_at.unwrap_or(delivery.create_time);
    let now = Utc::now();

    let stale = {
        let mut conn = context.pool.get().await?;
        // A late delivery waits for its refreshes, at most until its deadline.
        let deadline = delivery.refresh_deadline.unwrap_or(delivery.scheduled_time);
        if now < deadline && refreshing(&mut conn, &plan).await? {
            let again = deadline.min(crate::domain::clock::after(
                now,
                context.settings.report_interval,
            ));
            deliveries::postpone(&mut conn, hold, again, "").await?;
            return Ok(None);
        }
        stale_sources(&mut conn, &plan, prepared_at).await?
    };

    let klips = match render(context, schedule, &plan).await {
        Ok(klips) => klips,
        Err(status) => {
            context.library_trouble(delivery, schedule, &status).await?;
            return Ok(None);
        }
    };

    let definition = ScheduleDefinition::from(schedule);
    let report = Report {
        title: schedule.name.clone(),
        zone: definition.zone(),
        scheduled_time: delivery.scheduled_time,
        rendered_at: Utc::now(),
        klips,
        missing_klips: plan.missing_klips.len(),
        stale: stale.clone(),
        source_names: plan
            .data_sources
            .iter()
            .map(|source| (source.data_source_id, source.name.clone()))
            .collect::<HashMap<_, _>>(),
    };
    let message = report
        .message(context.mailer.from(), &schedule.recipients)?
        .formatted();
    let mut conn = context.pool.get().await?;
    if !deliveries::store_message(
        &mut conn,
        hold,
        &message,
        &schedule.recipients,
        stale_to_json(&stale),
    )
    .await?
    {
        return Ok(None);
    }
    Ok(Some((schedule.recipients.clone(), message)))
}

/// The report's Klips rendered by the library for the schedule's account and user, in
/// report order; a Klip deleted since the preparation says so.
async fn render(
    context: &ReportContext,
    schedule: &ReportSchedule,
    plan: &ReportPlan,
) -> Result<Vec<KlipSection>, Status> {
    let account = schedule.account_id;
    let user = schedule.user_id.clone();
    let peers = context.peers.clone();
    // Owned values in each future, so that the report loop's future stays `Send`.
    let renders = futures::stream::iter(plan.klips.clone())
        .map(move |klip| {
            let peers = peers.clone();
            let user = user.clone();
            async move {
                let render = peers.render_klip(klip.id, account, &user).await;
                (klip, render)
            }
        })
        .buffered(RENDER_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut klips = Vec::new();
    for (klip, render) in renders {
        let render = match render {
            Ok(render) => Ok(render),
            Err(status) if is_gone(&status) => Err("this Klip no longer exists".to_owned()),
            Err(status) => return Err(status),
        };
        klips.push(KlipSection {
            name: klip.name.clone(),
            render,
        });
    }
    Ok(klips)
}

/// Whether any refresh queued for the report is still waiting or running.
async fn refreshing(conn: &mut AsyncPgConnection, plan: &ReportPlan) -> Result<bool, StoreError> {
    let ids: Vec<_> = plan.data_sources.iter().filter_map(|s| s.job_id).collect();
    Ok(jobs::get_many(conn, &ids)
        .await?
        .iter()
        .any(|job| JobState::ACTIVE.contains(&job.state)))
}

/// The report's data sources whose data was not refreshed for it, and why (F7).
async fn stale_sources(
    conn: &mut AsyncPgConnection,
    plan: &ReportPlan,
    prepared_at: DateTime<Utc>,
) -> Result<Vec<StaleSource>, StoreError> {
    let ids: Vec<_> = plan.data_sources.iter().filter_map(|s| s.job_id).collect();
    let found: HashMap<_, _> = jobs::get_many(conn, &ids)
        .await?
        .into_iter()
        .map(|job| (job.id, job))
        .collect();
    let mut stale = Vec::new();
    for source in &plan.data_sources {
        let last_fetch = if source.instance_key.is_empty() {
            None
        } else {
            instances::get(
                conn,
                &InstanceId {
                    data_source_id: source.data_source_id,
                    instance_key: source.instance_key.clone(),
                },
            )
            .await?
            .and_then(|instance| instance.last_fetch_time)
        };
        let job = source.job_id.and_then(|id| found.get(&id));
        let reason = match (&source.problem, job) {
            (Some(problem), _) => Some(problem.clone()),
            (None, Some(job)) => match job.state {
                JobState::Succeeded => None,
                JobState::Failed => Some(format!(
                    "the refresh failed: {}",
                    shorten(&job.error, MAX_REASON_CHARS)
                )),
                JobState::Deferred => Some(match job.defer_until {
                    Some(until) => format!(
                        "the refresh was deferred by an API limit until {}",
                        until.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    None => "the refresh was deferred by an API limit".to_owned(),
                }),
                _ => Some("the refresh did not finish before the send time".to_owned()),
            },
            // The job is gone (finished long ago): the fetch time tells.
            (None, None) if last_fetch.is_some_and(|fetched| fetched >= prepared_at) => None,
            (None, None) => Some("the data was not refreshed".to_owned()),
        };
        if let Some(reason) = reason {
            stale.push(StaleSource {
                data_source_id: source.data_source_id,
                instance_key: source.instance_key.clone(),
                fetch_time: last_fetch,
                reason,
            });
        }
    }
    Ok(stale)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max).collect();
        short.push_str("...");
        short
    }
}
