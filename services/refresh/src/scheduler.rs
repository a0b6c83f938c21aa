//! The scheduler: every `schedule_interval`, queue the due instances of active accounts (F2),
//! resolve active accounts' data sources again when their last sync is older than
//! `resync_interval` (so new data sources join the schedule without a login), and delete
//! finished jobs past their retention. Every replica runs it; the queue's unique index makes
//! concurrent runs harmless. The answers kept for request ids are the platform's to purge
//! (`TRELLIS_REQUEST_ID_RETENTION`), not the scheduler's.
//!
//! It runs under the server's [`Background`]: when the server stops, a pass in progress
//! finishes (its statements are short) and no other starts.

use std::sync::Arc;

use trellis_platform::background::Background;
use trellis_platform::db::DbPool;

use crate::app::activity::resolve_account;
use crate::peers::Peers;
use crate::settings::Settings;
use crate::store::{activity, instances, jobs};

/// Instances queued per scheduler pass, at most.
const QUEUE_PER_PASS: i64 = 5000;
/// Accounts resolved again per pass, at most.
const RESYNC_PER_PASS: i64 = 10;

pub async fn run(pool: DbPool, peers: Arc<Peers>, settings: Settings, background: Background) {
    let stop = background.token();
    let mut ticker = tokio::time::interval(settings.schedule_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = pass(&pool, &peers, &settings).await {
            tracing::warn!(error = format!("{error:#}"), "scheduler pass failed");
        }
    }
}

async fn pass(pool: &DbPool, peers: &Peers, settings: &Settings) -> anyhow::Result<()> {
    let resync = {
        let mut conn = pool.get().await?;
        let queued = instances::enqueue_due_of_active_accounts(&mut conn, QUEUE_PER_PASS).await?;
        if queued > 0 {
            tracing::debug!(queued, "queued due instances of active accounts");
        }
        jobs::delete_finished_before(&mut conn, settings.job_retention).await?;
        activity::forget_syncs_before(&mut conn, settings.activity_throttle).await?;
        activity::due_for_resync(&mut conn, settings.resync_interval, RESYNC_PER_PASS).await?
    };

    // No pooled connection is held while the library answers.
    for (account_id, user) in resync {
        match resolve_account(peers, account_id, &user).await {
            Ok(resolved) => {
                let mut conn = pool.get().await?;
                instances::upsert_resolved(&mut conn, &resolved).await?;
                activity::mark_synced(&mut conn, account_id).await?;
            }
            Err(status) => {
                tracing::warn!(account = %account_id, message = status.message(), "cannot resolve an active account's data sources");
                break;
            }
        }
    }
    Ok(())
}
