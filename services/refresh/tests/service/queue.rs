//! The queue's order (F3), identical requests fetched once, and the queue's figures and
//! positions as each caller may see them.

use crate::common::jobs::cached;
use crate::common::*;
use std::time::Duration;
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_platform::client::TracedChannel;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_testkit::data_api::Reply;
use trellis_testkit::tokens;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn fifo_order_holds_and_a_deferred_job_runs_before_the_jobs_queued_after_it() {
    let world = World::start().await;
    let mut settings = fast_settings();
    // One fetch at a time, so the data API sees the queue's order.
    settings.workers = 1;
    settings.batch_size = 1;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    const JOBS: usize = 12;
    let mut sources = Vec::new();
    for i in 0..JOBS {
        let path = format!("/q/{i}");
        api.set_json(&path, serde_json::json!(i));
        api.set_delay(&path, Duration::from_millis(150));
        sources.push(world.data_source(account, &api.url(&path), HOUR).await);
    }
    // The first job's API asks to come back in a second (F5): it is deferred.
    api.fail_next(
        "/q/0",
        1,
        Reply::status(429).with_header("Retry-After", "1"),
    );

    assert_eq!(
        login(&mut client, account, "ann").await.queued_jobs,
        JOBS as i32
    );
    wait_until_fetched(&client, account, &sources).await;

    let order = api.paths();
    assert_eq!(order.len(), JOBS + 1, "{order:?}");
    assert_eq!(order[0], "/q/0", "first in, first out: {order:?}");
    let retry = order
        .iter()
        .skip(1)
        .position(|p| p == "/q/0")
        .map(|i| i + 1)
        .expect("the deferred job ran again");
    let others: Vec<&String> = order.iter().skip(1).filter(|p| *p != "/q/0").collect();
    let expected: Vec<String> = (1..JOBS).map(|i| format!("/q/{i}")).collect();
    assert_eq!(
        others,
        expected.iter().collect::<Vec<_>>(),
        "the other jobs run in the order they were queued"
    );
    assert!(
        retry < JOBS,
        "once its deferral ended, the deferred job ran before the last jobs queued after it: {order:?}"
    );
    // And it ran at its first chance: at the first claim after its deferral ended, so
    // right after the fetch that was running then (the deferral starts when the 429 is
    // read, a little after the 429's arrival here, hence one fetch of slack).
    let arrivals = api.arrivals();
    let deferral_end = arrivals[0].at + Duration::from_secs(1);
    let first_after = arrivals
        .iter()
        .position(|a| a.at >= deferral_end)
        .expect("requests after the deferral");
    assert!(
        retry <= first_after + 2,
        "the deferred job went to the front: retried at {retry}, first arrival after its deferral at {first_after}: {order:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_requests_due_together_are_fetched_once() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_csv("/shared.csv", "day,visits\nmon,3\ntue,5\n");
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let url = api.url("/shared.csv");
    let sources = [
        world.data_source(account, &url, HOUR).await,
        world.data_source(account, &url, HOUR).await,
        world.data_source(account, &url, HOUR).await,
    ];
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 3);
    wait_until_fetched(&client, account, &sources).await;
    assert_eq!(
        api.requests_for("/shared.csv"),
        1,
        "one fetch for three data sources"
    );

    // Cached data is read by services (the library renders it for people): a member's own
    // token is refused.
    let member = client
        .get_cached_data(call(
            refresh::GetCachedDataRequest {
                data_source_id: sources[0].to_string(),
                ..Default::default()
            },
            &tokens::viewer(account),
        ))
        .await
        .expect_err("people read data through the library");
    assert_eq!(member.code(), Code::PermissionDenied);
    let mut hashes = Vec::new();
    for source in sources {
        let cached = cached(&mut client, account, source)
            .await
            .expect("GetCachedData");
        assert_eq!(cached.data_source_id, source.to_string());
        assert_eq!(cached.format, refresh::DataFormat::Csv as i32);
        assert_eq!(cached.size_bytes, 23);
        let rows = match cached.data.unwrap().kind.unwrap() {
            prost_types::value::Kind::ListValue(rows) => rows.values.len(),
            other => panic!("CSV is a list of rows: {other:?}"),
        };
        assert_eq!(rows, 3, "the header row and two rows");
        assert!(cached.age.is_some());
        hashes.push(cached.content_hash);
    }
    assert!(hashes.iter().all(|h| h == &hashes[0]), "one copy shared");
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_status_positions_an_accounts_jobs_and_access_is_by_account() {
    let world = World::start().await;
    let replica = world
        .replica(Settings {
            // An API-only replica: jobs stay queued.
            workers: 0,
            ..fast_settings()
        })
        .await;
    let mut client = refresh_client(&replica);
    let account = world.account(library::AccountKind::Standard, None).await;
    let other = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    world.member(other, "olga", Role::Viewer).await;
    let mut mine = Vec::new();
    for i in 0..3 {
        mine.push(
            world
                .data_source(account, &world.api.url(&format!("/m/{i}")), HOUR)
                .await,
        );
    }
    let theirs = world.data_source(other, &world.api.url("/o"), HOUR).await;
    assert_eq!(login(&mut client, other, "olga").await.queued_jobs, 1);
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 3);

    let status = client
        .get_queue_status(call(
            refresh::GetQueueStatusRequest::default(),
            &tokens::viewer(account),
        ))
        .await
        .unwrap()
        .into_inner();
    // A member's figures are their account's (the other account's job is not counted);
    // the positions are places in the whole queue.
    assert_eq!(status.depth, 3, "the account's own jobs only");
    assert_eq!(status.deferred_count, 0);
    assert_eq!(status.running_count, 0);
    assert!(status.oldest_wait.is_some());
    let positions = positions(&status);
    assert_eq!(
        positions,
        mine.iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i as i64 + 2))
            .collect::<Vec<_>>(),
        "behind the other account's job, in order"
    );

    // RefreshNow returns the job already queued (dedup).
    let job = client
        .refresh_now(call(
            refresh::RefreshNowRequest {
                data_source_id: mine[0].to_string(),
                ..Default::default()
            },
            &tokens::editor(account),
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(job.id, status.positions[0].job.as_ref().unwrap().id);
    assert_eq!(job.state, refresh::RefreshJobState::Queued as i32);

    access_is_by_account(&mut client, (account, mine[1]), (other, theirs), &job.id).await;
    let global = client
        .get_queue_status(call(
            refresh::GetQueueStatusRequest::default(),
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(global.depth, 4, "an operator sees the whole queue");
    assert!(global.positions.is_empty());
}

/// Another tenant's job, data source and data are not readable, a viewer does not write,
/// and a service's activity is not activity (`mine`: a data source of `account`; `theirs`:
/// one of `other`; `job`: a job of `account`).
async fn access_is_by_account(
    client: &mut RefreshServiceClient<TracedChannel>,
    (account, mine): (Uuid, Uuid),
    (other, their_source): (Uuid, Uuid),
    job: &str,
) {
    // Another tenant's job, data source and data are not readable.
    let denied = client
        .get_refresh_status(call(
            refresh::GetRefreshStatusRequest {
                data_source_id: their_source.to_string(),
                account_id: other.to_string(),
            },
            &tokens::admin(account),
        ))
        .await
        .expect_err("another account");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let hidden = client
        .get_refresh_job(call(
            refresh::GetRefreshJobRequest {
                id: job.to_owned(),
                account_id: String::new(),
            },
            &tokens::viewer(other),
        ))
        .await
        .expect_err("another account's job");
    assert_eq!(hidden.code(), Code::NotFound);
    let viewer_write = client
        .refresh_now(call(
            refresh::RefreshNowRequest {
                data_source_id: mine.to_string(),
                ..Default::default()
            },
            &tokens::viewer(account),
        ))
        .await
        .expect_err("viewers do not write");
    assert_eq!(viewer_write.code(), Code::PermissionDenied);
    // The activity of a service is not activity.
    let service = client
        .record_activity(call(
            refresh::RecordActivityRequest {
                request_id: String::new(),
                kind: refresh::ActivityKind::Login as i32,
            },
            &tokens::service(),
        ))
        .await
        .expect_err("a service token");
    assert_eq!(service.code(), Code::PermissionDenied);
    // Email report schedules (F7, tests/schedules/) are per account too.
    let reports = client
        .list_report_schedules(call(
            refresh::ListReportSchedulesRequest::default(),
            &tokens::admin(account),
        ))
        .await
        .expect("the account's schedules")
        .into_inner();
    assert!(reports.schedules.is_empty());
    let theirs = client
        .list_report_schedules(call(
            refresh::ListReportSchedulesRequest {
                account_id: other.to_string(),
                ..Default::default()
            },
            &tokens::admin(account),
        ))
        .await
        .expect_err("another account's schedules");
    assert_eq!(theirs.code(), Code::PermissionDenied);
}
