//! A worker task that panics (a fault no input can cause, injected through the
//! `fault-injection` feature that only this crate's tests enable) fails its job with a
//! counted failure, stops its heartbeat, releases its API-limit permits, and leaves the
//! instance to refresh again; the replica goes on serving and fetching.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::time::Duration;

use common::jobs::*;
use common::*;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1::RefreshJobState as State;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_worker_fails_its_job_and_the_instance_refreshes_afterwards() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
    let account = world.account(library::AccountKind::Standard, None).await;
    // One request at a time with this token: a permit the panicking fetch kept would hold
    // every later fetch of the token back until its lease expired.
    let token = world
        .oauth_token(
            &oauth,
            account,
            tokens_pb::ApiLimit {
                max_concurrent: 1,
                ..Default::default()
            },
        )
        .await;
    let url = world.api.url("/fragile");
    world
        .api
        .set_json("/fragile", serde_json::json!({"ok": true}));
    let source = world
        .data_source_with(
            account,
            &url,
            Duration::ZERO,
            Some(library::data_source_auth::Method::TokenId(token)),
            "",
        )
        .await;

    trellis_refresh::faults::panic_on_next_fetch(&url);
    let failed = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    assert!(
        failed
            .error
            .contains("stopped on a fault inside the service"),
        "{failed:?}"
    );
    let failing = instance(&mut client, account, source).await;
    assert_eq!(failing.consecutive_failures, 1, "counted: {failing:?}");
    assert!(failing.backoff_until.is_some(), "backing off: {failing:?}");
    assert_eq!(
        world.api.requests_for("/fragile"),
        0,
        "it panicked before sending"
    );

    // The job stays failed: no heartbeat renews it, no worker holds it.
    let again = job(&client, account, &failed.id).await;
    assert_eq!(state(&again), State::Failed);

    // The permit was released with the job: the next fetch of the token is granted at
    // its first claim, not deferred until the panicked job's permit expired.
    let done = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&done), State::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 1, "claimed once, never deferred: {done:?}");
    let healed = instance(&mut client, account, source).await;
    assert_eq!(healed.consecutive_failures, 0, "{healed:?}");
    assert_eq!(world.api.requests_for("/fragile"), 1);
    cached(&mut client, account, source)
        .await
        .expect("the data is served");
    still_serving(&mut client, account).await;
}
