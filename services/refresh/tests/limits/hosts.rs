//! A host's limit from the operator's setting `TRELLIS_REFRESH_HOST_LIMITS` (F5), for data
//! sources without any auth.

use std::time::Duration;

use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_testkit::data_api::Limits;

use crate::common::*;
use crate::periods::limit_keys;

#[tokio::test(flavor = "multi_thread")]
async fn the_setting_limits_every_request_to_its_host() {
    const SOURCES: usize = 10;
    let world = World::start().await;
    let api = &world.api;
    api.limit_overall(Limits {
        max_concurrent: Some(2),
        per_second: Some(4),
    });
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        let path = format!("/open/{i}");
        api.set_json(&path, serde_json::json!({"i": i}));
        // Slow and quick answers alternate: the slow ones alone would put more than two in
        // flight at once, the quick ones more than four in a second.
        api.set_delay(
            &path,
            Duration::from_millis(if i % 2 == 0 { 700 } else { 20 }),
        );
        sources.push(world.data_source(account, &api.url(&path), HOUR).await);
    }

    let mut settings = fast_settings();
    settings.workers = 8;
    settings.batch_size = 8;
    settings.host_limits = "other.example.com=1/1h,127.0.0.1=4/1s;max=2"
        .parse()
        .unwrap();
    let replica = world.replica(settings).await;
    let mut refresh = refresh_client(&replica);
    assert_eq!(
        login(&mut refresh, account, "ann").await.queued_jobs,
        SOURCES as i32
    );
    wait_until_fetched(&refresh, account, &sources).await;

    println!(
        "{} requests: at most {} at once, {} in a second, {} 429s",
        api.requests(),
        api.max_concurrency(),
        api.max_per_second(),
        api.rejected_429()
    );
    assert_eq!(api.requests(), SOURCES, "each data source fetched once");
    assert_eq!(api.rejected_429(), 0, "the API never had to answer 429");
    assert!(
        api.max_concurrency() <= 2,
        "{} at once",
        api.max_concurrency()
    );
    assert!(
        api.max_per_second() <= 4,
        "{} in a second",
        api.max_per_second()
    );
    let keys = limit_keys(&world.refresh_database).await;
    assert_eq!(keys, ["host:127.0.0.1"], "only the fetched host's limit");
}
