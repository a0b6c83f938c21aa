//! A job that runs past the job timeout, and a job whose account was deleted.

use std::time::Duration;

use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::RefreshJobState as State;
use trellis_testkit::data_api::Reply;
use trellis_testkit::tokens;

use crate::common::jobs::*;
use crate::common::*;

use super::{settings, sources};

#[tokio::test(flavor = "multi_thread")]
async fn a_job_past_the_job_timeout_fails_and_its_instance_refreshes_later() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    settings.job_timeout = Duration::from_secs(1);
    settings.fetch_timeout = Duration::from_secs(30);
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world.api.set_json("/stuck", serde_json::json!("late"));
    world.api.hold_next("/stuck", 1);
    let (account, sources) = sources(&world, &["/stuck"]).await;
    let source = sources[0];

    let failed = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    assert!(
        failed.error.contains("did not finish within 1s"),
        "{failed:?}"
    );
    let instance = instance(&mut client, account, source).await;
    assert_eq!(instance.consecutive_failures, 1, "{instance:?}");
    assert!(
        instance.backoff_until.is_some(),
        "backing off: {instance:?}"
    );

    world.api.release();
    refreshes_again(&mut client, account, source).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_of_a_deleted_account_is_dropped() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    // Long enough for the account to be deleted while the job waits.
    settings.max_retry_after = Duration::from_secs(5);
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world.api.set_json("/orphan", serde_json::json!(1));
    world.api.fail_next(
        "/orphan",
        1,
        Reply::status(429).with_header("Retry-After", "5"),
    );
    let (account, sources) = sources(&world, &["/orphan"]).await;
    let queued = refresh_now(&mut client, account, sources[0]).await;
    wait_for_job(
        &client,
        account,
        &queued.id,
        "the 429's deferral",
        |state| state == State::Deferred,
    )
    .await;

    world
        .library_client()
        .delete_account(call(
            library::DeleteAccountRequest {
                request_id: String::new(),
                id: account.to_string(),
                etag: String::new(),
                force: true,
            },
            &tokens::service(),
        ))
        .await
        .expect("DeleteAccount");

    let dropped = wait_for_job(&client, account, &queued.id, "the job to end", |state| {
        state == State::Succeeded || state == State::Failed
    })
    .await;
    assert_eq!(state(&dropped), State::Failed, "{dropped:?}");
    assert!(dropped.error.contains("no longer exists"), "{dropped:?}");
    let status = client
        .get_refresh_status(call(
            refresh::GetRefreshStatusRequest {
                data_source_id: sources[0].to_string(),
                account_id: account.to_string(),
            },
            &tokens::service(),
        ))
        .await
        .expect("GetRefreshStatus")
        .into_inner();
    assert!(status.instances.is_empty(), "retired: {status:?}");
    assert_eq!(world.api.requests_for("/orphan"), 1, "never fetched again");
    assert_eq!(panics(), 0, "nothing panicked");
}
