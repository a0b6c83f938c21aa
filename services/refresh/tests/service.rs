//! The refresh service end to end, over real gRPC, with the library and the token registry
//! running as the real services and the data sources' APIs played by a real HTTP server on
//! loopback: activity and the schedule (F1, F2, F4, I13), the queue's order (F3), identical
//! requests fetched once, failures and backoff (F8), the size cap and the SSRF guard, and
//! the read methods.

mod common;

use std::time::Duration;

use common::*;
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::data_api::Reply;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread")]
async fn a_login_queues_exactly_the_due_data_sources() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    for path in ["/a", "/b", "/manual", "/sales/north", "/sales/south", "/c"] {
        api.set_json(path, serde_json::json!({"path": path}));
    }

    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    world.set_property(account, "region", "north").await;
    let a = world.data_source(account, &api.url("/a"), HOUR).await;
    let b = world.data_source(account, &api.url("/b"), HOUR).await;
    let manual = world
        .data_source(account, &api.url("/manual"), Duration::ZERO)
        .await;
    // I13: resolved with the account's company property.
    let dynamic = world
        .data_source(account, &api.url("/sales/{props.region}"), HOUR)
        .await;
    // Unresolvable: never sent.
    let _broken = world
        .data_source(account, &api.url("/x/{props.missing}"), HOUR)
        .await;

    // F1: everything with an interval is due at the first login.
    let first = login(&mut client, account, "ann").await;
    assert_eq!(first.queued_jobs, 3, "a, b and the dynamic one");
    wait_until_fetched(&client, account, &[a, b, dynamic]).await;
    for path in ["/a", "/b", "/sales/north"] {
        assert_eq!(api.requests_for(path), 1, "{path} fetched once");
    }
    assert_eq!(
        api.requests_for("/manual"),
        0,
        "no interval, never on schedule"
    );
    assert_eq!(api.requests_for("/sales/south"), 0);
    assert_eq!(
        api.requests(),
        3,
        "the unresolved data source is never sent"
    );

    // Logging in again queues nothing: nothing is due.
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 0);

    // A second account, active, as a witness that the scheduler ran.
    let witness = world.account(library::AccountKind::Standard, None).await;
    world.member(witness, "cy", Role::Viewer).await;
    let c = world.data_source(witness, &api.url("/c"), HOUR).await;
    assert_eq!(login(&mut client, witness, "cy").await.queued_jobs, 1);
    wait_until_fetched(&client, witness, &[c]).await;

    // Two hours later: `a` and the witness's `c` are due. The witness is active, so the
    // scheduler queues `c` (F2); the first account is not any more, so `a` stays (F2).
    go_inactive(&world.refresh_database, account).await;
    age(&world.refresh_database, &[a, c], 2 * HOUR).await;
    eventually(
        "the scheduler to refresh the active account's due data source",
        WAIT,
        || {
            let count = api.requests_for("/c");
            async move { (count == 2).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        api.requests_for("/a"),
        1,
        "an inactive account gets nothing queued"
    );
    let status = refresh_status(&mut client, account, a).await;
    assert!(
        status.instances[0].job.as_ref().map(|j| j.state)
            == Some(refresh::RefreshJobState::Succeeded as i32),
        "a's last job is the first one: {status:?}"
    );

    // The next login queues exactly the due one (F1).
    let again = login(&mut client, account, "ann").await;
    assert_eq!(again.queued_jobs, 1, "only `a` is due");
    eventually("`a` to be fetched again", WAIT, || {
        let count = api.requests_for("/a");
        async move { (count == 2).then_some(()) }
    })
    .await;
    assert_eq!(api.requests_for("/b"), 1);
    assert_eq!(api.requests_for("/sales/north"), 1);
    assert_eq!(api.requests_for("/manual"), 0);
    let _ = manual;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partners_activity_queues_nothing_of_its_clients() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_json("/partner", serde_json::json!(1));
    api.set_json("/client", serde_json::json!(2));

    let partner = world.account(library::AccountKind::Partner, None).await;
    let client_account = world
        .account(library::AccountKind::Client, Some(partner))
        .await;
    let partner_source = world.data_source(partner, &api.url("/partner"), HOUR).await;
    let client_source = world
        .data_source(client_account, &api.url("/client"), HOUR)
        .await;
    world.member(partner, "agency-admin", Role::Admin).await;
    world
        .member(client_account, "client-user", Role::Viewer)
        .await;

    // The partner's admin signs in (and browses, views dashboards): only the partner is
    // active (F4).
    assert_eq!(
        login(&mut client, partner, "agency-admin")
            .await
            .queued_jobs,
        1
    );
    for kind in [
        refresh::ActivityKind::DashboardView,
        refresh::ActivityKind::Library,
        refresh::ActivityKind::KlipEditor,
    ] {
        let answer = client
            .record_activity(call(
                refresh::RecordActivityRequest {
                    request_id: String::new(),
                    kind: kind as i32,
                },
                &tokens::admin(partner),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.queued_jobs, 0, "already active");
    }
    wait_until_fetched(&client, partner, &[partner_source]).await;

    // Its clients stay inactive: with the partner's source due again, the scheduler queues
    // it, and still nothing of the client.
    age(&world.refresh_database, &[partner_source], 2 * HOUR).await;
    eventually(
        "the partner's due data source to be refreshed",
        WAIT,
        || {
            let count = api.requests_for("/partner");
            async move { (count == 2).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        api.requests_for("/client"),
        0,
        "no client data source queued"
    );
    let status = refresh_status(&mut client, client_account, client_source).await;
    assert!(
        status.instances.is_empty(),
        "the client's data source is unknown"
    );
    assert!(
        status.account_active_until.is_none(),
        "the client was never active"
    );

    // A user signed into the client makes it active.
    assert_eq!(
        login(&mut client, client_account, "client-user")
            .await
            .queued_jobs,
        1
    );
    wait_until_fetched(&client, client_account, &[client_source]).await;
    assert_eq!(api.requests_for("/client"), 1);
}

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
        let cached = client
            .get_cached_data(call(
                refresh::GetCachedDataRequest {
                    data_source_id: source.to_string(),
                    account_id: account.to_string(),
                    ..Default::default()
                },
                &tokens::service(),
            ))
            .await
            .expect("GetCachedData")
            .into_inner()
            .cached_data
            .unwrap();
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
async fn a_failing_data_source_backs_off_shows_its_error_without_the_secret_and_is_disabled() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.backoff = "1:5m,3:30m,5:6h".parse().unwrap();
    settings.disable_after = 3;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set("/broken", Reply::status(503));
    let account = world.account(library::AccountKind::Standard, None).await;
    let secret = "s3cret-api-key-value";
    let credential = world.api_key_in_query(account, "api_key", secret).await;
    let source = world
        .data_source_with(
            account,
            &api.url("/broken"),
            HOUR,
            Some(library::data_source_auth::Method::CredentialId(credential)),
            "",
        )
        .await;

    let editor = tokens::editor(account);
    let refresh_now = |request_id: &str| {
        let mut client = client.clone();
        let editor = editor.clone();
        let request = refresh::RefreshNowRequest {
            request_id: request_id.to_owned(),
            data_source_id: source.to_string(),
            ..Default::default()
        };
        async move {
            client
                .refresh_now(call(request, &editor))
                .await
                .expect("RefreshNow")
                .into_inner()
                .job
                .unwrap()
        }
    };

    let job = refresh_now("first").await;
    assert_eq!(job.trigger, refresh::RefreshTrigger::Manual as i32);
    let replayed = refresh_now("first").await;
    assert_eq!(
        replayed.id, job.id,
        "a retry with the same request id answers the same"
    );

    let failed = |failures: i32| {
        let client = client.clone();
        async move {
            eventually(&format!("{failures} failures"), WAIT, || {
                let mut client = client.clone();
                async move {
                    let status = refresh_status(&mut client, account, source).await;
                    let instance = status.instances.into_iter().next()?;
                    (instance.consecutive_failures == failures
                        && instance
                            .job
                            .as_ref()
                            .is_some_and(|j| j.state == refresh::RefreshJobState::Failed as i32))
                    .then_some(instance)
                }
            })
            .await
        }
    };
    let instance = failed(1).await;
    assert!(
        instance.last_error.contains("503"),
        "{}",
        instance.last_error
    );
    assert!(
        !instance.last_error.contains(secret),
        "{}",
        instance.last_error
    );
    let arrival = &api.arrivals()[0];
    assert!(
        arrival.query.contains("api_key="),
        "the key went in the query"
    );
    let wait =
        instance.backoff_until.unwrap().seconds - instance.last_attempt_time.unwrap().seconds;
    assert!(
        (295..=305).contains(&wait),
        "5 minutes after one failure, not {wait}s"
    );
    assert_eq!(instance.next_due_time, instance.backoff_until);
    assert!(!instance.disabled);

    refresh_now("second").await;
    failed(2).await;
    refresh_now("third").await;
    let instance = failed(3).await;
    assert!(instance.disabled, "disabled after 3 consecutive failures");
    assert!(instance.next_due_time.is_none());

    // RefreshNow re-enables it; this time the API answers.
    api.set_json("/broken", serde_json::json!({"fixed": true}));
    let job = refresh_now("fourth").await;
    eventually("the repaired data source to succeed", WAIT, || {
        let mut client = client.clone();
        let id = job.id.clone();
        async move {
            let job = client
                .get_refresh_job(call(
                    refresh::GetRefreshJobRequest {
                        id,
                        account_id: String::new(),
                    },
                    &tokens::viewer(account),
                ))
                .await
                .ok()?
                .into_inner()
                .job?;
            (job.state == refresh::RefreshJobState::Succeeded as i32).then_some(())
        }
    })
    .await;
    let instance = refresh_status(&mut client, account, source)
        .await
        .instances
        .remove(0);
    assert_eq!(instance.consecutive_failures, 0);
    assert!(!instance.disabled);
    assert!(instance.last_error.is_empty());

    // A connection failure's message carries no secret either.
    let closed = world
        .api
        .url("/closed")
        .replace(&world.api.address.port().to_string(), "9");
    let credential = world.api_key_in_query(account, "api_key", secret).await;
    let unreachable = world
        .data_source_with(
            account,
            &closed,
            HOUR,
            Some(library::data_source_auth::Method::CredentialId(credential)),
            "",
        )
        .await;
    client
        .refresh_now(call(
            refresh::RefreshNowRequest {
                data_source_id: unreachable.to_string(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .unwrap();
    let error = eventually("the unreachable data source to fail", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, account, unreachable).await;
            let instance = status.instances.into_iter().next()?;
            (instance.consecutive_failures == 1).then_some(instance.last_error)
        }
    })
    .await;
    assert!(!error.is_empty());
    assert!(!error.contains(secret), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_over_the_size_cap_fails_the_refresh() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.max_response_bytes = 64 * 1024;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world.api.set("/huge", Reply::large(1024 * 1024).chunked());
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let source = world
        .data_source(account, &world.api.url("/huge"), HOUR)
        .await;
    login(&mut client, account, "ann").await;
    let error = eventually("the oversized response to fail", WAIT, || {
        let mut client = client.clone();
        async move {
            let instance = refresh_status(&mut client, account, source)
                .await
                .instances
                .into_iter()
                .next()?;
            (instance.consecutive_failures == 1).then_some(instance.last_error)
        }
    })
    .await;
    assert!(
        error.contains("larger than the limit of 65536 bytes"),
        "{error}"
    );
    let missing = client
        .get_cached_data(call(
            refresh::GetCachedDataRequest {
                data_source_id: source.to_string(),
                account_id: account.to_string(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .expect_err("nothing cached");
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_destinations_are_refused_unless_allowed() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.allow_private_networks = false;
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world
        .api
        .set_json("/internal", serde_json::json!("secret internal data"));
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let by_address = world
        .data_source(account, &world.api.url("/internal"), HOUR)
        .await;
    let by_name = world
        .data_source(account, &world.api.url_by_name("/internal"), HOUR)
        .await;
    let metadata = world
        .data_source(account, "http://169.254.169.254/latest/meta-data/", HOUR)
        .await;
    login(&mut client, account, "ann").await;
    for source in [by_address, by_name, metadata] {
        let error = eventually("the refusal", WAIT, || {
            let mut client = client.clone();
            async move {
                let instance = refresh_status(&mut client, account, source)
                    .await
                    .instances
                    .into_iter()
                    .next()?;
                (instance.consecutive_failures == 1).then_some(instance.last_error)
            }
        })
        .await;
        assert!(error.contains("private, loopback or link-local"), "{error}");
    }
    assert_eq!(
        world.api.requests(),
        0,
        "nothing reached the internal server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_status_positions_an_accounts_jobs_and_access_is_by_account() {
    let world = World::start().await;
    let mut settings = fast_settings();
    // An API-only replica: jobs stay queued.
    settings.workers = 0;
    let replica = world.replica(settings).await;
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
    let positions: Vec<(String, i64)> = status
        .positions
        .iter()
        .map(|p| (p.job.as_ref().unwrap().data_source_id.clone(), p.position))
        .collect();
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

    // Another tenant's job, data source and data are not readable.
    let denied = client
        .get_refresh_status(call(
            refresh::GetRefreshStatusRequest {
                data_source_id: theirs.to_string(),
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
                id: job.id.clone(),
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
                data_source_id: mine[1].to_string(),
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

    // Email report schedules (F7, tests/reports.rs) are per account too.
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

/// The cached data of `account`'s data source for `user` (empty: no user's values), read
/// as the services read it (GetCachedData takes no user's token).
async fn cached_json(
    client: &refresh::refresh_service_client::RefreshServiceClient<
        trellis_platform::client::TracedChannel,
    >,
    account: Uuid,
    data_source: Uuid,
    user: &str,
) -> prost_types::Value {
    client
        .clone()
        .get_cached_data(call(
            refresh::GetCachedDataRequest {
                data_source_id: data_source.to_string(),
                account_id: account.to_string(),
                instance_key: String::new(),
                user_id: user.to_owned(),
            },
            &tokens::service(),
        ))
        .await
        .expect("GetCachedData")
        .into_inner()
        .cached_data
        .unwrap()
        .data
        .unwrap()
}

fn text(value: &prost_types::Value) -> String {
    match &value.kind {
        Some(prost_types::value::Kind::StringValue(s)) => s.clone(),
        other => panic!("a string, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamic_data_source_resolves_with_each_users_values() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_json("/sales/us", serde_json::json!("us sales"));
    api.set_json("/sales/eu", serde_json::json!("eu sales"));
    let partner = world.account(library::AccountKind::Partner, None).await;
    world.member(partner, "ann", Role::Editor).await;
    world.member(partner, "bob", Role::Viewer).await;
    let mut library_client = world.library_client();
    library_client
        .create_variable(call(
            library::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(library::Variable {
                    name: "region".into(),
                    default_value: "eu".into(),
                    ..Default::default()
                }),
            },
            &tokens::admin(partner),
        ))
        .await
        .expect("CreateVariable");
    // Ann picked "us" in a user input; Bob kept the default (I13).
    let ann = tokens::user_token(partner, "ann", Role::Editor);
    library_client
        .set_user_variable_value(call(
            library::SetUserVariableValueRequest {
                name: "region".into(),
                value: "us".into(),
                ..Default::default()
            },
            &ann,
        ))
        .await
        .expect("SetUserVariableValue");
    let source = world
        .data_source(partner, &api.url("/sales/{props.region}"), HOUR)
        .await;

    assert_eq!(login(&mut client, partner, "ann").await.queued_jobs, 1);
    eventually("ann's instance to be fetched", WAIT, || {
        let count = api.requests_for("/sales/us");
        async move { (count == 1).then_some(()) }
    })
    .await;
    assert_eq!(login(&mut client, partner, "bob").await.queued_jobs, 1);
    eventually("bob's instance to be fetched", WAIT, || {
        let count = api.requests_for("/sales/eu");
        async move { (count == 1).then_some(()) }
    })
    .await;
    let status = eventually("both instances to be stored", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, partner, source).await;
            (status.instances.len() == 2
                && status.instances.iter().all(|i| i.last_fetch_time.is_some()))
            .then_some(status)
        }
    })
    .await;
    let mut urls: Vec<String> = status.instances.iter().map(|i| i.url.clone()).collect();
    urls.sort();
    assert_eq!(
        urls,
        [api.url("/sales/eu"), api.url("/sales/us")],
        "one instance per distinct resolved request"
    );
    assert_eq!(
        text(&cached_json(&client, partner, source, "ann").await),
        "us sales"
    );
    assert_eq!(
        text(&cached_json(&client, partner, source, "bob").await),
        "eu sales"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_data_source_retires_its_old_instance() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    let api = &world.api;
    api.set_json("/v1", serde_json::json!("old"));
    api.set_json("/v2", serde_json::json!("new"));
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let source = world.data_source(account, &api.url("/v1"), HOUR).await;
    login(&mut client, account, "ann").await;
    wait_until_fetched(&client, account, &[source]).await;

    // The URL changes; the old instance's next refresh resolves to a new request.
    world
        .library_client()
        .update_data_source(call(
            library::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(library::DataSource {
                    id: source.to_string(),
                    account_id: account.to_string(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: api.url("/v2"),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["request.url".into()],
                }),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("UpdateDataSource");
    age(&world.refresh_database, &[source], 2 * HOUR).await;
    eventually("the new request to be fetched", WAIT, || {
        let count = api.requests_for("/v2");
        async move { (count == 1).then_some(()) }
    })
    .await;
    let status = eventually("the old instance to be retired", WAIT, || {
        let mut client = client.clone();
        async move {
            let status = refresh_status(&mut client, account, source).await;
            (status.instances.len() == 1 && status.instances[0].last_fetch_time.is_some())
                .then_some(status)
        }
    })
    .await;
    assert_eq!(status.instances[0].url, api.url("/v2"));
    assert_eq!(
        api.requests_for("/v1"),
        1,
        "the old request is not sent again"
    );
    assert_eq!(
        text(&cached_json(&client, account, source, "").await),
        "new"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_created_while_the_account_is_active_joins_the_schedule() {
    let world = World::start().await;
    let mut settings = fast_settings();
    settings.resync_interval = Duration::from_millis(300);
    let replica = world.replica(settings).await;
    let mut client = refresh_client(&replica);
    world.api.set_json("/later", serde_json::json!(1));
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 0);
    let source = world
        .data_source(account, &world.api.url("/later"), HOUR)
        .await;
    wait_until_fetched(&client, account, &[source]).await;
    assert_eq!(world.api.requests_for("/later"), 1);
}
