//! Every page of a paginated fetch counts against the API limits (F5): each page after the
//! first waits for the next slot of the rates, the wait is counted, and a slot further away
//! than `TRELLIS_REFRESH_MAX_PAGE_WAIT` fails the refresh.

use std::time::Duration;

use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::data_api::Reply;
use uuid::Uuid;

use crate::common::jobs::{instance, refresh_to_the_end, state};
use crate::common::*;
use crate::setup::most_in;

/// Five pages by offset, two records each but the last: answers their bytes together.
fn five_pages(world: &World, path: &str) -> i64 {
    let pages: Vec<(String, Reply)> = (0..5)
        .map(|page| {
            let records: Vec<i32> = if page < 4 {
                vec![2 * page, 2 * page + 1]
            } else {
                vec![8]
            };
            (
                (2 * page).to_string(),
                Reply::json(serde_json::json!(records)),
            )
        })
        .collect();
    let bytes = pages.iter().map(|(_, reply)| reply.body.len() as i64).sum();
    world.api.set_pages(
        path,
        "offset",
        pages.iter().map(|(o, r)| (o.as_str(), r.clone())).collect(),
    );
    bytes
}

async fn paginated_source(world: &World, account: Uuid, path: &str) -> Uuid {
    world
        .create_data_source(library::DataSource {
            pagination: Some(library::Pagination {
                style: Some(library::pagination::Style::Offset(
                    library::OffsetPagination {
                        parameter: "offset".into(),
                        limit_parameter: "limit".into(),
                        page_size: 2,
                    },
                )),
                items_path: String::new(),
                max_pages: 10,
            }),
            ..source_of(account, &world.api.url(path), Duration::from_secs(3600))
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn each_page_waits_for_the_next_slot_and_the_wait_is_counted() {
    let world = World::start().await;
    let bytes = five_pages(&world, "/paged");
    let account = world.account(library::AccountKind::Standard, None).await;
    let source = paginated_source(&world, account, "/paged").await;
    let mut settings = fast_settings();
    settings.host_limits = "127.0.0.1=2/1s".parse().unwrap();
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);

    let job = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&job), refresh::RefreshJobState::Succeeded, "{job:?}");
    let arrivals = world.api.arrivals();
    assert_eq!(arrivals.len(), 5, "five pages: {arrivals:?}");
    let per_second = most_in(&arrivals, Duration::from_secs(1), |_| true);
    assert!(per_second <= 2, "{per_second} pages in one second");
    let last = instance(&mut client, account, source)
        .await
        .last_fetch
        .expect("the fetch's figures");
    let span = |d: Option<prost_types::Duration>| {
        let d = d.unwrap();
        Duration::new(d.seconds as u64, d.nanos as u32)
    };
    println!("{last:?}");
    assert_eq!(last.pages, 5);
    assert_eq!(last.bytes, bytes, "the bytes of every page");
    // Four pages each waited for a slot 550 ms after the one before.
    assert!(
        span(last.limit_wait) >= Duration::from_millis(1500),
        "{last:?}"
    );
    assert!(span(last.duration) >= span(last.limit_wait), "{last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_whose_slot_is_too_far_fails_the_refresh_and_backs_off() {
    let world = World::start().await;
    five_pages(&world, "/far");
    let account = world.account(library::AccountKind::Standard, None).await;
    let source = paginated_source(&world, account, "/far").await;
    let mut settings = fast_settings();
    // One request a minute, and a page may wait 2 s.
    settings.host_limits = "127.0.0.1=1/1m".parse().unwrap();
    settings.max_page_wait = Duration::from_secs(2);
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);

    let job = refresh_to_the_end(&mut client, account, source).await;
    assert_eq!(state(&job), refresh::RefreshJobState::Failed, "{job:?}");
    assert!(
        job.error.contains("allow the next page only in")
            && job.error.contains("TRELLIS_REFRESH_MAX_PAGE_WAIT"),
        "{}",
        job.error
    );
    assert_eq!(world.api.requests(), 1, "only the first page was sent");
    let instance = instance(&mut client, account, source).await;
    assert_eq!(instance.consecutive_failures, 1, "a counted failure");
    assert!(instance.backoff_until.is_some(), "the instance backs off");
}
