//! 429s with huge, far-future, past, negative or garbage Retry-After, and 429 for ever.

use std::time::Duration;

use chrono::Utc;
use trellis_proto::refresh::v1::RefreshJobState as State;
use trellis_testkit::data_api::Reply;

use crate::common::jobs::*;
use crate::common::*;

use super::{MAX_RETRY_AFTER, settings, sources};

#[tokio::test(flavor = "multi_thread")]
async fn huge_far_future_and_past_retry_after_defer_within_the_clamp() {
    count_panics();
    let world = World::start().await;
    let replica = world.replica(settings()).await;
    let mut client = refresh_client(&replica);
    let cases = [
        ("/huge-seconds", "99999999999999"),
        ("/float-seconds", "1e20"),
        ("/year-9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("/past", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ];
    let paths: Vec<&str> = cases.iter().map(|(path, _)| *path).collect();
    let (account, sources) = sources(&world, &paths).await;
    for ((path, retry_after), source) in cases.iter().zip(&sources) {
        world.api.set_json(path, serde_json::json!({"ok": path}));
        world.api.fail_next(
            path,
            1,
            Reply::status(429).with_header("Retry-After", retry_after),
        );
        let queued = refresh_now(&mut client, account, *source).await;
        let deferred = wait_for_job(&client, account, &queued.id, "a deferral", |state| {
            state != State::Queued && state != State::Running
        })
        .await;
        // A past date defers the shortest while (1 s), which a slow poll may miss; the
        // others defer for the clamp's 2 s.
        if *path != "/past" {
            assert_eq!(
                state(&deferred),
                State::Deferred,
                "{retry_after}: {deferred:?}"
            );
        }
        if state(&deferred) == State::Deferred {
            let until = time(deferred.defer_until.as_ref()).expect("a deferral's end");
            assert!(
                until <= Utc::now() + MAX_RETRY_AFTER,
                "{retry_after}: deferred until {until}, past the clamp"
            );
        }
        // The deferral ends by itself and the API, behaving now, is fetched.
        let done = wait_for_job(&client, account, &queued.id, "the deferred job", |state| {
            state == State::Succeeded || state == State::Failed
        })
        .await;
        assert_eq!(state(&done), State::Succeeded, "{retry_after}: {done:?}");
        assert_eq!(
            world.api.requests_for(path),
            2,
            "{retry_after}: 429, then the data"
        );
        let instance = instance(&mut client, account, *source).await;
        assert_eq!(instance.consecutive_failures, 0, "a 429 is no failure");
    }
    still_serving(&mut client, account).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_and_garbage_retry_after_fail_and_back_off() {
    count_panics();
    let world = World::start().await;
    let replica = world.replica(settings()).await;
    let mut client = refresh_client(&replica);
    let cases = [("/negative", "-5"), ("/garbage", "soon")];
    let paths: Vec<&str> = cases.iter().map(|(path, _)| *path).collect();
    let (account, sources) = sources(&world, &paths).await;
    for ((path, retry_after), source) in cases.iter().zip(&sources) {
        world.api.set(
            path,
            Reply::status(429).with_header("Retry-After", retry_after),
        );
        let failed = refresh_to_the_end(&mut client, account, *source).await;
        assert_eq!(state(&failed), State::Failed, "{retry_after}: {failed:?}");
        let instance = instance(&mut client, account, *source).await;
        assert_eq!(instance.consecutive_failures, 1, "counted: {instance:?}");
        assert!(
            instance.last_error.contains("429") && instance.last_error.contains(retry_after),
            "{instance:?}"
        );
        // The normal backoff (5 minutes after a first failure), not a retry every few
        // seconds: nothing asks the API again before then.
        let backoff = time(instance.backoff_until.as_ref()).expect("backing off");
        assert!(backoff > Utc::now() + Duration::from_secs(240), "{backoff}");
        assert_eq!(time(instance.next_due_time.as_ref()), Some(backoff));
        assert_eq!(world.api.requests_for(path), 1);

        world.api.set_json(path, serde_json::json!({"ok": path}));
        refreshes_again(&mut client, account, *source).await;
    }
    still_serving(&mut client, account).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_forever_counts_a_failure_after_the_deferrals_in_a_row() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    settings.max_deferrals = 3;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    let (account, sources) = sources(&world, &["/forever"]).await;
    let source = sources[0];
    // No Retry-After (and `0` alike): each deferral is short, so it would loop for ever.
    world.api.set("/forever", Reply::status(429));

    let failed = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    assert!(failed.error.contains("after 3 deferrals"), "{failed:?}");
    assert_eq!(
        world.api.requests_for("/forever"),
        4,
        "3 deferrals, then the failure"
    );
    let instance = instance(&mut client, account, source).await;
    assert_eq!(instance.consecutive_failures, 1, "counted: {instance:?}");
    let backoff = time(instance.backoff_until.as_ref()).expect("backing off");
    assert!(backoff > Utc::now() + Duration::from_secs(240), "{backoff}");

    world.api.set_json("/forever", serde_json::json!({"ok": 1}));
    refreshes_again(&mut client, account, source).await;
    assert_eq!(panics(), 0, "nothing panicked");
}
