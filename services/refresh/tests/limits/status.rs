//! Fetch observability: GetRefreshStatus shows each instance's last fetch (its duration,
//! bytes, pages and the time it waited for an API limit) and the data source's metrics
//! over its recent fetches.

use std::time::Duration;

use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;

use crate::common::jobs::{refresh_to_the_end, state};
use crate::common::*;

fn span(duration: Option<&prost_types::Duration>) -> Duration {
    let duration = duration.expect("a duration");
    Duration::new(duration.seconds as u64, duration.nanos as u32)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_shows_what_each_fetch_took_and_the_data_sources_metrics() {
    let world = World::start().await;
    let api = &world.api;
    let body = serde_json::json!({"rows": [["north", 120], ["south", 80]]});
    let size = body.to_string().len() as i64;
    for path in ["/stats/a", "/stats/b"] {
        api.set_json(path, body.clone());
        api.set_delay(path, Duration::from_millis(60));
    }
    let account = world.account(library::AccountKind::Standard, None).await;
    let a = world.data_source(account, &api.url("/stats/a"), HOUR).await;
    let b = world.data_source(account, &api.url("/stats/b"), HOUR).await;
    let mut settings = fast_settings();
    // One request a second to the host: of two refreshes asked for at once, one waits.
    settings.host_limits = "127.0.0.1=1/1s".parse().unwrap();
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);

    assert!(
        refresh_status(&mut client, account, a)
            .await
            .metrics
            .is_none(),
        "no metrics before the first fetch"
    );
    refresh_now(&mut client, account, a).await;
    refresh_now(&mut client, account, b).await;
    wait_until_fetched(&client, account, &[a, b]).await;
    let mut waits = Vec::new();
    for source in [a, b] {
        let status = refresh_status(&mut client, account, source).await;
        let instance = &status.instances[0];
        let last = instance
            .last_fetch
            .as_ref()
            .expect("the last fetch's figures");
        assert!(
            span(last.duration.as_ref()) >= Duration::from_millis(60),
            "{last:?}"
        );
        assert_eq!(last.bytes, size, "the body's size");
        assert_eq!(last.pages, 1);
        waits.push(span(last.limit_wait.as_ref()));
    }
    waits.sort();
    assert_eq!(
        waits[0],
        Duration::ZERO,
        "the first went at once: {waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_millis(500),
        "the other waited for the host's next slot: {waits:?}"
    );

    // Three more fetches of `a`, each asked for right after the last: each waits its slot.
    for _ in 0..3 {
        let job = refresh_to_the_end(&mut client, account, a).await;
        assert_eq!(state(&job), refresh::RefreshJobState::Succeeded, "{job:?}");
    }
    let status = refresh_status(&mut client, account, a).await;
    let metrics = status.metrics.expect("the data source's metrics");
    let last = status.instances[0].last_fetch.unwrap();
    println!("{metrics:?}, last {last:?}");
    assert_eq!(metrics.fetches, 4);
    let p50 = span(metrics.p50_duration.as_ref());
    let p95 = span(metrics.p95_duration.as_ref());
    assert!(p50 >= Duration::from_millis(60), "{metrics:?}");
    assert!(p95 >= p50, "{metrics:?}");
    assert_eq!(metrics.p50_bytes, size);
    let total_wait = span(metrics.total_limit_wait.as_ref());
    assert!(
        total_wait >= span(last.limit_wait.as_ref()) && total_wait >= Duration::from_secs(1),
        "the fetches asked for at once waited for the limit: {metrics:?}"
    );
    // The other data source's metrics are its own.
    let other = refresh_status(&mut client, account, b)
        .await
        .metrics
        .unwrap();
    assert_eq!(other.fetches, 1);
}
