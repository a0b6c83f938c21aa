//! The workers: a listener that turns notifications into wake-ups, a dispatcher that claims
//! batches of jobs for free worker slots, and the processing of a claimed group of jobs
//! (identical requests fetched once). See docs/refresh.md.

mod dispatch;
mod fetch;
mod job;
mod listener;
mod prepare;
mod settle;

use std::sync::Arc;

use tokio::sync::Notify;
use trellis_platform::db::DbPool;

use crate::backoff::BackoffPolicy;
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
}

/// Starts the listener and the dispatcher of one replica.
pub fn spawn(context: Arc<WorkerContext>, database_url: String) {
    let wake = Arc::new(Notify::new());
    tokio::spawn(listener::listen(database_url, wake.clone()));
    tokio::spawn(dispatch::dispatch(context, wake));
}
