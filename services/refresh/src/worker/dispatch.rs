//! The dispatcher: claims jobs whenever a worker slot is free, in batches of at most the
//! free slots, and runs each group of identical requests in a slot of its own. Between
//! claims it waits for a notification, the end of the earliest deferral or lease, or the
//! poll interval, whichever comes first. It returns when the server stops; the groups in
//! flight then hand their leases back ([`job::run_group`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::WorkerContext;
use super::job;
use crate::store::jobs;
use crate::store::rows::RefreshJob;

pub async fn dispatch(context: Arc<WorkerContext>, wake: Arc<Notify>) {
    let workers = context.settings.workers.max(1);
    let slots = Arc::new(Semaphore::new(workers));
    let stop = context.background.token();
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(first) = first else {
            return;
        };
        let mut free = vec![first];
        while free.len() < context.settings.batch_size.max(1) {
            match slots.clone().try_acquire_owned() {
                Ok(slot) => free.push(slot),
                Err(_) => break,
            }
        }

        match claim(&context, free.len()).await {
            Ok(claimed) if !claimed.is_empty() => {
                for (group, slot) in group_by_instance_key(claimed).into_iter().zip(free) {
                    let background = context.background.clone();
                    background.spawn("refresh job group", run(context.clone(), group, slot));
                }
            }
            Ok(_) => {
                drop(free);
                let wait = next_wait(&context).await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            Err(error) => {
                drop(free);
                tracing::warn!(%error, "claiming refresh jobs failed");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(context.settings.poll_interval) => {}
                }
            }
        }
    }
}

async fn run(context: Arc<WorkerContext>, group: Vec<RefreshJob>, _slot: OwnedSemaphorePermit) {
    // One span per fetch: the calls to the library and the token registry continue it.
    let span = tracing::info_span!(
        "refresh.fetch",
        instance = %group[0].instance_key,
        jobs = group.len(),
        job = %group[0].id,
        worker = %context.owner,
        attempt = group[0].attempt,
    );
    // The fetch continues the trace of the call that queued the job (its leader's, when
    // identical requests are fetched together).
    crate::trace::continue_in(&span, group[0].trace_context.as_ref());
    job::run_group(context, group).instrument(span).await;
}

/// Promotes ended deferrals, reclaims expired leases, then claims.
async fn claim(context: &WorkerContext, limit: usize) -> anyhow::Result<Vec<RefreshJob>> {
    let mut conn = context.pool.get().await?;
    let promoted = jobs::promote_due_deferred(&mut conn).await?;
    let reclaimed = jobs::reclaim_expired_leases(&mut conn).await?;
    if reclaimed > 0 {
        tracing::info!(reclaimed, "reclaimed refresh jobs whose lease expired");
    }
    if promoted > 0 {
        tracing::debug!(
            promoted,
            "deferred refresh jobs back at the front of the queue"
        );
    }
    Ok(jobs::claim(&mut conn, limit, context.settings.lease).await?)
}

async fn next_wait(context: &WorkerContext) -> Duration {
    let poll = context.settings.poll_interval;
    let Ok(mut conn) = context.pool.get().await else {
        return poll;
    };
    match jobs::next_wakeup(&mut conn).await {
        Ok(Some(seconds)) => {
            crate::domain::clock::seconds(seconds.max(0.001)).map_or(poll, |wait| wait.min(poll))
        }
        _ => poll,
    }
}

/// Jobs with the same instance key make one group, fetched once; groups keep queue order.
fn group_by_instance_key(jobs: Vec<RefreshJob>) -> Vec<Vec<RefreshJob>> {
    let mut groups: Vec<Vec<RefreshJob>> = Vec::new();
    for job in jobs {
        match groups
            .iter_mut()
            .find(|g| g[0].instance_key == job.instance_key)
        {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}
