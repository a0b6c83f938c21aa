//! Settling jobs that were not fetched: a problem found while preparing them, or a fault of
//! the worker itself.

use chrono::Utc;
use trellis_platform::db;
use trellis_platform::error::StoreError;

use super::WorkerContext;
use super::prepare::Problem;
use crate::domain::job::{InstanceId, Lease};
use crate::peers::convert::resolved_instance;
use crate::store::rows::{NewJob, RefreshJob};
use crate::store::{instances, jobs, outcomes};

pub(super) async fn settle_problem(
    context: &WorkerContext,
    job: &RefreshJob,
    problem: Problem,
) -> anyhow::Result<()> {
    let mut conn = context.pool.get().await?;
    let lease = [job.lease()];
    let instance = InstanceId {
        data_source_id: job.data_source_id,
        instance_key: job.instance_key.clone(),
    };
    match problem {
        Problem::Gone(message) => {
            tracing::info!(job = %job.id, data_source = %job.data_source_id, %message, "retiring a refresh instance");
            // One transaction: nobody sees the job failed and its instance still there.
            db::transaction(&mut conn, async |conn| {
                if !outcomes::fail(conn, None, &lease, &message, false, &context.policy)
                    .await?
                    .is_empty()
                {
                    instances::retire(conn, &instance).await?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        }
        Problem::Superseded(resolved) => {
            let message = format!(
                "the data source now resolves to instance {}; this instance is retired",
                resolved.instance_key
            );
            if outcomes::fail(&mut conn, None, &lease, &message, false, &context.policy)
                .await?
                .is_empty()
            {
                return Ok(());
            }
            instances::retire(&mut conn, &instance).await?;
            let successor = resolved_instance(
                job.data_source_id,
                job.account_id,
                &job.resolve_user_id,
                &resolved,
            );
            instances::upsert_resolved(&mut conn, std::slice::from_ref(&successor)).await?;
            // It waited its turn already: the successor goes to the front.
            let trigger = job.trigger;
            let mut next =
                NewJob::new(&successor.id, job.account_id, &job.resolve_user_id, trigger)
                    .traced(job.trace_context.clone());
            next.front = true;
            jobs::enqueue(&mut conn, &[next]).await?;
        }
        Problem::Failure(message) => {
            outcomes::fail(&mut conn, None, &lease, &message, true, &context.policy).await?;
        }
        Problem::Transient(message) => {
            tracing::warn!(job = %job.id, %message, "refresh job postponed");
            let until =
                crate::domain::clock::after(Utc::now(), context.settings.default_retry_after);
            let max = context.settings.max_deferrals;
            let message =
                format!("{message} (postponed {max} times in a row; the instance backs off)");
            outcomes::defer_or_fail(
                &mut conn,
                None,
                &lease,
                until,
                &[],
                max,
                &message,
                &context.policy,
            )
            .await?;
        }
    }
    Ok(())
}

/// Fails the jobs of `leases` still held after the worker's task failed (an error, a
/// panic, the job timeout), counting a failure so that the instance backs off (F8) rather
/// than being retried at once, and releases every permit they hold. Best effort: when the
/// database cannot be reached either, the leases expire and the jobs are reclaimed.
pub(super) async fn fail_after_fault(context: &WorkerContext, leases: &[Lease], message: &str) {
    let failed = async {
        let mut conn = context.pool.get().await?;
        outcomes::fail_releasing(&mut conn, leases, message, &context.policy).await?;
        anyhow::Ok(())
    };
    if let Err(error) = failed.await {
        tracing::warn!(
            error = format!("{error:#}"),
            "cannot fail the refresh jobs of a failed worker task; their leases will expire"
        );
    }
}
