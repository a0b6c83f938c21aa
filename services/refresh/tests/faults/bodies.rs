//! Answers too long, too slow, too deep, with too many rows, or too large to serve.

use std::time::Duration;

use tonic::Code;
use trellis_proto::refresh::v1::RefreshJobState as State;
use trellis_testkit::data_api::Reply;

use crate::common::jobs::*;
use crate::common::*;

use super::{settings, sources};

#[tokio::test(flavor = "multi_thread")]
async fn endless_oversized_and_slow_responses_fail_with_a_reason() {
    count_panics();
    let world = World::start().await;
    let mut settings = settings();
    settings.max_response_bytes = 256 * 1024;
    settings.fetch_timeout = Duration::from_millis(500);
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
