//! The workers: a listener that turns notifications into wake-ups, a dispatcher that claims
//! batches of jobs for free worker slots, and the processing of a claimed group of jobs
//! (identical requests fetched once). See docs/refresh.md.
//!
//! All of them run under the server's [`Background`]: when the server stops, the listener
//! and the dispatcher return, and every group in flight is abandoned with its leases handed
//! back (its jobs queued again at the front), so that another replica claims them at once
//! instead of waiting out the lease.

mod dispatch;
mod fetch;
mod job;
mod limits;
mod listener;
mod prepare;
mod settle;

use std::sync::Arc;

use tokio::sync::Notify;
use trellis_platform::background::Background;
use trellis_platform::db::DbPool;

use crate::domain::backoff::BackoffPolicy;
use crate::fetch::Fetcher;
use crate::peers::Peers;
use crate::settings::Settings;

/// What every worker task shares.
pub struct WorkerContext {
    pub pool: DbPool,
    pub peers: Arc<Peers>,
    pub fetcher: Fetcher,
    pub settings: Settings,
    pub policy: BackoffPolicy,
    /// Names this replica in its logs and spans.
    pub owner: String,
    /// The server's background loops: stopping it stops the workers.
    pub background: Background,
}

/// Starts the listener and the dispatcher of one replica.
pub fn spawn(context: Arc<WorkerContext>, database_url: String) {
    let wake = Arc::new(Notify::new());
    let background = context.background.clone();
    background.spawn(
        "refresh queue listener",
        listener::listen(database_url, wake.clone(), background.clone()),
    );
    background.spawn("refresh dispatcher", dispatch::dispatch(context, wake));
}
