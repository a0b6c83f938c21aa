//! Helpers of the fault tests: refreshing one data source now and following its job to its
//! end, the instance's state, its cached data, and a count of panics in this process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tonic::Status;
use trellis_platform::client::TracedChannel;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

use super::{WAIT, call, refresh_now, refresh_status};

pub type Client = RefreshServiceClient<TracedChannel>;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of this test process from now on (the default hook still reports
/// it); [`panics`] reads the count.
pub fn count_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            report(info);
        }));
    });
}

pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

pub fn state(job: &refresh::RefreshJob) -> refresh::RefreshJobState {
    refresh::RefreshJobState::try_from(job.state).unwrap_or(refresh::RefreshJobState::Unspecified)
}

pub fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
}

pub async fn job(client: &Client, account: Uuid, id: &str) -> refresh::RefreshJob {
    client
        .clone()
        .get_refresh_job(call(
            refresh::GetRefreshJobRequest {
                id: id.to_owned(),
                account_id: account.to_string(),
            },
            &tokens::service(),
        ))
        .await
        .expect("GetRefreshJob")
        .into_inner()
        .job
        .expect("a job")
}

/// Waits until job `id` reaches a state `wanted` accepts, and returns it.
pub async fn wait_for_job(
    client: &Client,
    account: Uuid,
    id: &str,
    what: &str,
    wanted: impl Fn(refresh::RefreshJobState) -> bool,
) -> refresh::RefreshJob {
    eventually(what, WAIT, || async {
        let job = job(client, account, id).await;
        wanted(state(&job)).then_some(job)
    })
    .await
}

/// Refreshes `source` now and waits for its job to end (succeeded or failed).
pub async fn refresh_to_the_end(
    client: &mut Client,
    account: Uuid,
    source: Uuid,
) -> refresh::RefreshJob {
    let queued = refresh_now(client, account, source).await;
    wait_for_job(client, account, &queued.id, "the refresh to end", |state| {
        matches!(
            state,
            refresh::RefreshJobState::Succeeded | refresh::RefreshJobState::Failed
        )
    })
    .await
}

/// The one instance of `source`.
pub async fn instance(
    client: &mut Client,
    account: Uuid,
    source: Uuid,
) -> refresh::InstanceRefreshStatus {
    refresh_status(client, account, source)
        .await
        .instances
        .into_iter()
        .next()
        .expect("an instance")
}

/// What GetCachedData answers for `source`, as the library asks for it.
pub async fn cached(
    client: &mut Client,
    account: Uuid,
    source: Uuid,
) -> Result<refresh::CachedData, Status> {
    client
        .get_cached_data(call(
            refresh::GetCachedDataRequest {
                data_source_id: source.to_string(),
                account_id: account.to_string(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .map(|answer| answer.into_inner().cached_data.expect("cached data"))
}

/// Once the API behaves again, a RefreshNow of `source` succeeds and its data is served.
pub async fn refreshes_again(client: &mut Client, account: Uuid, source: Uuid) {
    let job = refresh_to_the_end(client, account, source).await;
    assert_eq!(
        state(&job),
        refresh::RefreshJobState::Succeeded,
        "refreshed again: {job:?}"
    );
    let instance = instance(client, account, source).await;
    assert_eq!(instance.consecutive_failures, 0, "{instance:?}");
    assert!(instance.last_error.is_empty(), "{instance:?}");
    cached(client, account, source)
        .await
        .expect("the new data is served");
}

/// The service still answers (it did not die with the fault).
pub async fn still_serving(client: &mut Client, account: Uuid) {
    client
        .get_queue_status(call(
            refresh::GetQueueStatusRequest {
                account_id: account.to_string(),
            },
            &tokens::service(),
        ))
        .await
        .expect("the service still answers");
}

pub const SLACK: Duration = Duration::from_secs(2);
