//! Faults of third parties against the real service: a data API (the test kit's, on
//! loopback) answering 429 with huge, far-future, past, negative or garbage Retry-After,
//! 429 for ever, an endless chunked body, a slow answer, an oversized body, JSON nested 100 levels, a
//! million-row CSV and data at the size limit of a GetCachedData answer; a job that runs
//! past the job timeout; a job whose account was deleted. Each test shows that the job ends
//! (done, failed, or deferred within the clamp), that the instance says why, that nothing
//! panicked, and that the instance refreshes again once the API behaves.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::jobs::*;
use common::*;
use tonic::Code;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::RefreshJobState as State;
use trellis_testkit::data_api::Reply;
use trellis_testkit::tokens;
use uuid::Uuid;

const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

fn settings() -> trellis_refresh::Settings {
    let mut settings = fast_settings();
    settings.max_retry_after = MAX_RETRY_AFTER;
    settings
}

/// An account with one data source per path (no refresh interval: only RefreshNow
/// refreshes them).
async fn sources(world: &World, paths: &[&str]) -> (Uuid, Vec<Uuid>) {
    let account = world.account(library::AccountKind::Standard, None).await;
    let mut sources = Vec::new();
    for path in paths {
        sources.push(
            world
                .data_source(account, &world.api.url(path), Duration::ZERO)
                .await,
        );
    }
    (account, sources)
}

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

#[tokio::test(flavor = "multi_thread")]
async fn endless_oversized_and_slow_responses_fail_with_a_reason() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    settings.max_response_bytes = 256 * 1024;
    settings.request_timeout = Duration::from_millis(500);
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    // A body without a length far past the cap is, to the client, endless.
    world
        .api
        .set("/endless", Reply::large(32 * 1024 * 1024).chunked());
    world.api.set("/oversized", Reply::large(1024 * 1024));
    world.api.set_json("/slow", serde_json::json!("late"));
    world.api.set_delay("/slow", Duration::from_secs(20));
    let (account, sources) = sources(&world, &["/endless", "/oversized", "/slow"]).await;
    let cases = [
        ("/endless", "larger than the limit of 262144 bytes"),
        ("/oversized", "larger than the limit of 262144 bytes"),
        ("/slow", "timed out"),
    ];
    for ((path, reason), source) in cases.iter().zip(&sources) {
        let failed = refresh_to_the_end(&mut client, account, *source).await;
        assert_eq!(state(&failed), State::Failed, "{path}: {failed:?}");
        assert!(failed.error.contains(reason), "{path}: {failed:?}");
        let instance = instance(&mut client, account, *source).await;
        assert!(instance.last_error.contains(reason), "{path}: {instance:?}");
        let missing = cached(&mut client, account, *source)
            .await
            .expect_err("nothing cached");
        assert_eq!(missing.code(), Code::NotFound);

        world.api.set_delay(path, Duration::ZERO);
        world.api.set_json(path, serde_json::json!({"ok": path}));
        refreshes_again(&mut client, account, *source).await;
    }
    still_serving(&mut client, account).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

fn nested(levels: usize) -> serde_json::Value {
    let text = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    serde_json::from_str(&text).expect("nested JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_json_is_refused_and_the_deepest_accepted_is_served() {
    count_panics();
    let world = World::start().await;
    let replica = world.replica(settings()).await;
    let mut client = refresh_client(&replica);
    world.api.set_json("/deep", nested(100));
    // 31 arrays around a number: 32 levels, the most a data source may hold.
    world.api.set_json("/deepest", nested(31));
    let (account, sources) = sources(&world, &["/deep", "/deepest"]).await;
    let (deep, deepest) = (sources[0], sources[1]);

    let failed = refresh_to_the_end(&mut client, account, deep).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    let instance = instance(&mut client, account, deep).await;
    assert!(
        instance.last_error.contains("nests deeper than 32 levels"),
        "{instance:?}"
    );
    assert_eq!(
        cached(&mut client, account, deep).await.unwrap_err().code(),
        Code::NotFound
    );

    // What is cached can be read back by a client with default limits.
    let done = refresh_to_the_end(&mut client, account, deepest).await;
    assert_eq!(state(&done), State::Succeeded, "{done:?}");
    let data = cached(&mut client, account, deepest).await.expect("served");
    assert!(data.data.is_some());

    world.api.set_json("/deep", serde_json::json!([1, [2]]));
    refreshes_again(&mut client, account, deep).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_row_csv_is_refused_at_the_row_limit() {
    count_panics();
    let world = World::start().await;
    let replica = world.replica(settings()).await;
    let mut client = refresh_client(&replica);
    let million = "1,2\n".repeat(1_000_000);
    assert_eq!(million.len(), 4_000_000);
    world.api.set_csv("/million.csv", &million);
    let (account, sources) = sources(&world, &["/million.csv"]).await;
    let source = sources[0];

    let failed = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    let instance = instance(&mut client, account, source).await;
    assert!(
        instance.last_error.contains("more than 100000 rows"),
        "{instance:?}"
    );
    assert_eq!(
        cached(&mut client, account, source)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    world.api.set_csv("/million.csv", &"1,2\n".repeat(1000));
    refreshes_again(&mut client, account, source).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_at_the_cache_limit_is_served_and_past_it_refused() {
    count_panics();
    let world = World::start().await;
    // The default limits: data cached must fit the 4 MiB a default client decodes.
    let replica = world.replica(settings()).await;
    let mut client = refresh_client(&replica);
    let row = format!("{}\n", "x".repeat(100));
    // Each row takes 108 bytes as served: 36,000 rows fit the 4,000,000 bytes, 38,000 not.
    world.api.set_csv("/fits.csv", &row.repeat(36_000));
    world.api.set_csv("/too-large.csv", &row.repeat(38_000));
    let (account, sources) = sources(&world, &["/fits.csv", "/too-large.csv"]).await;
    let (fits, too_large) = (sources[0], sources[1]);

    let done = refresh_to_the_end(&mut client, account, fits).await;
    assert_eq!(state(&done), State::Succeeded, "{done:?}");
    let data = cached(&mut client, account, fits)
        .await
        .expect("served to a client that decodes 4 MiB");
    let Some(prost_types::value::Kind::ListValue(rows)) = data.data.and_then(|d| d.kind) else {
        panic!("rows");
    };
    assert_eq!(rows.values.len(), 36_000);

    let failed = refresh_to_the_end(&mut client, account, too_large).await;
    assert_eq!(state(&failed), State::Failed, "{failed:?}");
    assert!(
        failed
            .error
            .contains("larger than the limit of 4000000 bytes as cached"),
        "{failed:?}"
    );
    world.api.set_csv("/too-large.csv", &row.repeat(10));
    refreshes_again(&mut client, account, too_large).await;
    assert_eq!(panics(), 0, "nothing panicked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_past_the_job_timeout_fails_and_its_instance_refreshes_later() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    settings.job_timeout = Duration::from_secs(1);
    settings.request_timeout = Duration::from_secs(30);
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
