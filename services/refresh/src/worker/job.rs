//! Processing one claimed group of jobs: the jobs share an instance key, so their resolved
//! requests and credentials are identical and one fetch serves them all.
//!
//! For each job: resolve and get credentials ([`prepare`](super::prepare)), then take a
//! permit of the limits of the token and the rate-limit key or defer (F5), fetch, and settle
//! ([`fetch`](super::fetch)). A heartbeat renews the leases meanwhile; if they are lost, the
//! work is abandoned.
//!
//! However the work ends, nothing outlives it: it runs in a task of its own, and both that
//! task and the heartbeat are aborted when the group's future ends or is dropped
//! ([`AbortOnDrop`]). An error, a panic or the job timeout fails the jobs still held with a
//! counted failure, so the instance backs off (F8) and is refreshed again later, instead of
//! staying `running` behind a heartbeat nobody stops.
//!
//! When the server stops, the work is abandoned and the leases are handed back: the jobs
//! are queued again at the front, claimable at once by any replica, their attempt counted
//! as a claim but not as a failure.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tracing::Instrument;
use trellis_platform::db::DbPool;

use super::WorkerContext;
use super::fetch::fetch_group;
use super::prepare::prepare;
use super::settle::{fail_after_fault, settle_problem};
use crate::domain::job::Lease;
use crate::store::jobs;
use crate::store::rows::RefreshJob;

/// A task aborted when this is dropped: a heartbeat or a job's work never outlives the
/// future that started it, whether that future finished, failed, panicked or was cancelled.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn run_group(context: Arc<WorkerContext>, group: Vec<RefreshJob>) {
    let leases: Vec<Lease> = group.iter().map(RefreshJob::lease).collect();
    let (lost, on_lost) = oneshot::channel();
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        context.pool.clone(),
        leases.clone(),
        context.settings.lease,
        lost,
    )));
    let worker = context.clone();
    let mut work = AbortOnDrop(tokio::spawn(
        async move { process(&worker, group).await }.in_current_span(),
    ));
    let limit = context.settings.job_timeout;
    let stop = context.background.token();
    let finished = tokio::select! {
        finished = tokio::time::timeout(limit, &mut work.0) => finished,
        _ = on_lost => {
            tracing::warn!("lost the lease of refresh jobs; abandoning them to their new worker");
            return;
        }
        () = stop.cancelled() => {
            // The work must be over before its leases are handed back.
            work.0.abort();
            let _ = (&mut work.0).await;
            return hand_back(&context, &leases).await;
        }
    };
    let fault = match finished {
        Ok(Ok(Ok(()))) => return,
        Ok(Ok(Err(error))) => {
            tracing::error!(
                error = format!("{error:#}"),
                "refresh job processing failed"
            );
            "the refresh failed inside the service"
        }
        Ok(Err(joined)) => {
            tracing::error!(fault = %describe(joined), "refresh job processing stopped");
            "the refresh stopped on a fault inside the service"
        }
        Err(_) => {
            tracing::warn!(?limit, "refresh job processing took too long; abandoned");
            // The work must be over before its jobs are settled for it.
            work.0.abort();
            let _ = (&mut work.0).await;
            return fail_after_fault(
                &context,
                &leases,
                &format!(
                    "the refresh did not finish within {limit:?}; it backs off and is tried again"
                ),
            )
            .await;
        }
    };
    fail_after_fault(
        &context,
        &leases,
        &format!("{fault}; it backs off and is tried again"),
    )
    .await;
}

/// Puts the jobs still held back in the queue for another worker (the server is stopping).
async fn hand_back(context: &WorkerContext, leases: &[Lease]) {
    let handed_back = match context.pool.get().await {
        Ok(mut conn) => jobs::hand_back(&mut conn, leases).await,
        Err(error) => Err(error.into()),
    };
    match handed_back {
        Ok(count) => tracing::info!(count, "stopping: refresh jobs handed back to the queue"),
        // The leases expire and are reclaimed, as after a crash.
        Err(error) => tracing::warn!(%error, "stopping: handing back refresh jobs failed"),
    }
}

fn describe(joined: JoinError) -> String {
    match joined.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .map_or_else(|| "a panic".to_owned(), |text| format!("a panic: {text}")),
        Err(_) => "cancelled".to_owned(),
    }
}

/// Renews the group's leases every third of the lease; reports when none is held any more.
async fn heartbeat(pool: DbPool, leases: Vec<Lease>, lease: Duration, lost: oneshot::Sender<()>) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        let renewed = match pool.get().await {
            Ok(mut conn) => jobs::renew_leases(&mut conn, &leases, lease).await,
            Err(error) => Err(error.into()),
        };
        match renewed {
            Ok(held) if held.is_empty() => {
                let _ = lost.send(());
                return;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "renewing refresh job leases failed"),
        }
    }
}

async fn process(context: &WorkerContext, group: Vec<RefreshJob>) -> anyhow::Result<()> {
    let prepared = join_all(group.iter().map(|job| prepare(context, job))).await;
    let mut ready = Vec::new();
    for (job, outcome) in group.into_iter().zip(prepared) {
        match outcome {
            Ok(prepared) => ready.push(prepared),
            Err(problem) => settle_problem(context, &job, problem).await?,
        }
    }
    if ready.is_empty() {
        return Ok(());
    }
    fetch_group(context, ready).await
}
