//! Preparing a delivery, a lead time before its send (F7): find the report's Klips (a
//! dashboard's at this moment), the data sources they bind, resolve each for the schedule's
//! account and user (I13), and queue every one at the front of the queue with the report
//! trigger, whatever the account's activity. An instance already waiting in the normal part
//! of the queue is moved to the front. The plan (Klips, data sources, their jobs) is kept
//! with the delivery, which is then due at its send time.

use futures::StreamExt;
use tonic::{Code, Status};
use trellis_platform::db;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::ReportContext;
use crate::domain::job::{InstanceId, ResolvedInstance, Trigger};
use crate::domain::plan::{PlannedKlip, PlannedSource, ReportPlan};
use crate::domain::schedule::{ScheduleDefinition, Target};
use crate::peers::convert::resolved_instance;
use crate::store::rows::{NewJob, ReportDelivery, ReportSchedule};
use crate::store::{deliveries, instances, jobs, schedules};

/// Library calls made at once while preparing one delivery.
const CONCURRENCY: usize = 8;

/// A Klip, dashboard or data source that is gone (or was never the account's).
pub fn is_gone(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::NotFound | Code::PermissionDenied | Code::InvalidArgument
    )
}

/// Why a delivery is not prepared now.
enum Stop {
    /// Nothing is left to report: the delivery is skipped.
    Skip(&'static str),
    /// The library did not answer: the step is tried again later.
    Library(Status),
}

impl From<Status> for Stop {
    fn from(status: Status) -> Self {
        Stop::Library(status)
    }
}

pub async fn prepare(context: &ReportContext, delivery: ReportDelivery) -> anyhow::Result<()> {
    let Some(schedule) = ({
        let mut conn = context.pool.get().await?;
        schedules::find(&mut conn, delivery.schedule_id).await?
    }) else {
        // Deleted meanwhile: its deliveries went with it.
        return Ok(());
    };
    let definition = ScheduleDefinition::from(&schedule);
    let (plan, to_queue) = match plan(context, schedule.account_id, &definition).await {
        Ok(planned) => planned,
        Err(Stop::Skip(why)) => return context.skip(&delivery, &schedule, why).await,
        Err(Stop::Library(status)) => {
            return context.library_trouble(&delivery, &schedule, &status).await;
        }
    };
    let queued = queue_at_front(context, &delivery, &schedule, &definition, plan, to_queue).await?;
    if let Some(queued) = queued {
        tracing::info!(
            schedule = %schedule.id,
            delivery = %delivery.id,
            scheduled_time = %delivery.scheduled_time,
            queued,
            "a report's data sources are queued at the front of the queue"
        );
    }
    Ok(())
}

/// The report's plan (its Klips, in report order, and the data sources they bind), and the
/// instances to queue for it.
async fn plan(
    context: &ReportContext,
    account: Uuid,
    definition: &ScheduleDefinition,
) -> Result<(ReportPlan, Vec<ResolvedInstance>), Stop> {
    let klip_ids = match &definition.target {
        Target::Klips(ids) => ids.clone(),
        Target::Dashboard(dashboard) => match context.peers.dashboard(*dashboard, account).await {
            Ok(found) => found
                .klip_ids
                .iter()
                .filter_map(|id| Uuid::parse_str(id).ok())
                .collect(),
            Err(status) if is_gone(&status) => {
                return Err(Stop::Skip("the report's dashboard no longer exists"));
            }
            Err(status) => return Err(Stop::Library(status)),
        },
    };
    let (mut plan, bound) = klips(context, account, klip_ids).await?;
    if plan.klips.is_empty() {
        return Err(Stop::Skip("none of the report's Klips exists any more"));
    }
    let to_queue = data_sources(context, account, &definition.user_id, bound, &mut plan).await?;
    Ok((plan, to_queue))
}

/// The Klips that still exist, in report order (the others are the plan's missing ones),
/// and the data sources they bind.
async fn klips(
    context: &ReportContext,
    account: Uuid,
    klip_ids: Vec<Uuid>,
) -> Result<(ReportPlan, Vec<Uuid>), Status> {
    let peers = &context.peers;
    let found = futures::stream::iter(klip_ids)
        .map(|id| async move { (id, peers.klip(id, account).await) })
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut plan = ReportPlan::default();
    let mut bound: Vec<Uuid> = Vec::new();
    for (id, result) in found {
        match result {
            Ok(klip) => {
                plan.klips.push(PlannedKlip {
                    id,
                    name: klip.name.clone(),
                });
                for binding in &klip.bindings {
                    if let Ok(source) = Uuid::parse_str(&binding.data_source_id)
                        && !bound.contains(&source)
                    {
                        bound.push(source);
                    }
                }
            }
            Err(status) if is_gone(&status) => plan.missing_klips.push(id),
            Err(status) => return Err(status),
        }
    }
    Ok((plan, bound))
}

/// Each data source resolved for the schedule's account and `user` (I13), added to the
/// plan; answers the instances to queue.
async fn data_sources(
    context: &ReportContext,
    account: Uuid,
    user: &str,
    bound: Vec<Uuid>,
    plan: &mut ReportPlan,
) -> Result<Vec<ResolvedInstance>, Status> {
    let peers = &context.peers;
    let resolutions = futures::stream::iter(bound)
        .map(|source| async move {
            let (resolved, described) = futures::join!(
                peers.resolve(source, account, user, None),
                peers.data_source(source, account)
            );
            (source, resolved, described)
        })
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut to_queue = Vec::new();
    for (source, resolved, described) in resolutions {
        let name = described
            .map(|data_source| data_source.name)
            .unwrap_or_else(|_| format!("data source {source}"));
        let mut planned = PlannedSource {
            data_source_id: source,
            name,
            instance_key: String::new(),
            job_id: None,
            problem: None,
        };
        match resolved {
            Ok(resolved) if !resolved.unresolved_properties.is_empty() => {
                planned.problem = Some(format!(
                    "it cannot be refreshed: these properties have no value in the account: {}",
                    resolved.unresolved_properties.join(", ")
                ));
            }
            Ok(resolved) => {
                planned.instance_key = resolved.instance_key.clone();
                // Only a dynamic data source depends on the user's values.
                let user = if resolved.properties.is_empty() {
                    ""
                } else {
                    user
                };
                to_queue.push(resolved_instance(source, account, user, &resolved));
            }
            Err(status) if is_gone(&status) => {
                planned.problem = Some("the data source no longer exists".into());
            }
            Err(status) => return Err(status),
        }
        plan.data_sources.push(planned);
    }
    Ok(to_queue)
}

/// In one transaction, fenced by the delivery's claim: records the instances, queues each
/// at the front (F7) or moves its waiting job there, and keeps the plan. Returns how many
/// jobs were queued, or `None` when the claim was lost.
async fn queue_at_front(
    context: &ReportContext,
    delivery: &ReportDelivery,
    schedule: &ReportSchedule,
    definition: &ScheduleDefinition,
    mut plan: ReportPlan,
    resolved: Vec<ResolvedInstance>,
) -> anyhow::Result<Option<usize>> {
    let hold = delivery.hold();
    let account = schedule.account_id;
    let scheduled = delivery.scheduled_time;
    let lead = definition.lead_time_or(context.settings.report_lead_time);
    // The refreshes continue the trace of this preparation.
    let trace_context = crate::trace::current();
    let mut conn = context.pool.get().await?;
    let outcome = db::transaction(&mut conn, async |conn| {
            if !deliveries::lock_held(conn, hold).await? {
                return Ok(None);
            }
            instances::upsert_resolved(conn, &resolved).await?;
            let mut queued = 0;
            for source in plan
                .data_sources
                .iter_mut()
                .filter(|source| source.problem.is_none())
            {
                let instance = InstanceId {
                    data_source_id: source.data_source_id,
                    instance_key: source.instance_key.clone(),
                };
                let known = instances::get(conn, &instance).await?;
                if let Some(known) = known.as_ref().filter(|known| known.disabled) {
                    // F8: a disabled data source is refreshed only after RefreshNow.
                    source.problem = Some(format!(
                        "it is disabled after {} consecutive failed refreshes (last: {}); RefreshNow enables it again",
                        known.consecutive_failures, known.last_error
                    ));
                    continue;
                }
                let user = known
                    .as_ref()
                    .map(|known| known.resolve_user_id.clone())
                    .unwrap_or_default();
                let job = NewJob::new(&instance, account, &user, Trigger::Report)
                    .traced(trace_context.clone());
                if jobs::enqueue(conn, &[job]).await?.is_empty() {
                    jobs::move_to_front(conn, &instance).await?;
                } else {
                    queued += 1;
                }
                source.job_id = jobs::active_job(conn, &instance).await?.map(|job| job.id);
            }
            let now = chrono::Utc::now();
            // On time: sent at its scheduled time. Late (the service was down): sent when
            // its refreshes are done, waiting at most a lead time for them.
            let (send_at, deadline) = if scheduled > now {
                (scheduled, scheduled)
            } else {
                (now, crate::domain::clock::after(now, lead))
            };
            if !deliveries::prepared(conn, hold, plan.to_json(), send_at, deadline).await? {
                return Err(StoreError::NotFound);
            }
            Ok::<_, StoreError>(Some(queued))
        })
        .await;
    match outcome {
        Ok(queued) => Ok(queued),
        Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
