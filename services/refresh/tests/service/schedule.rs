//! Activity and the schedule (F1, F2, F4): what a login queues, what the scheduler queues
//! for active accounts, and that its passes leave the saved answers of request ids alone.

use crate::common::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;

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
    wait_for_requests(
        api,
        "/c",
        2,
        "the scheduler to refresh the active account's due data source",
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
    wait_for_requests(api, "/a", 2, "`a` to be fetched again").await;
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
    wait_for_requests(
        api,
        "/partner",
        2,
        "the partner's due data source to be refreshed",
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

/// A retry is safe for as long as the platform keeps request ids (a week), not the job
/// retention (a day): the scheduler's passes leave the saved answers alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_now_replays_after_the_job_retention_while_the_scheduler_runs() {
    let world = World::start().await;
    let replica = world.replica(fast_settings()).await;
    let mut client = refresh_client(&replica);
    for path in ["/kept", "/first", "/second"] {
        world.api.set_json(path, serde_json::json!(1));
    }
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let kept = world
        .data_source(account, &world.api.url("/kept"), HOUR)
        .await;
    let first = world
        .data_source(account, &world.api.url("/first"), HOUR)
        .await;
    let second = world
        .data_source(account, &world.api.url("/second"), HOUR)
        .await;
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 3);
    wait_until_fetched(&client, account, &[kept, first, second]).await;

    let request = refresh::RefreshNowRequest {
        request_id: Uuid::new_v4().to_string(),
        data_source_id: kept.to_string(),
        ..Default::default()
    };
    let refresh_now = || {
        let mut client = client.clone();
        let request = call(request.clone(), &tokens::editor(account));
        async move {
            client
                .refresh_now(request)
                .await
                .expect("RefreshNow")
                .into_inner()
                .job
                .expect("a job")
        }
    };
    let job = refresh_now().await;
    let settings = fast_settings();
    assert!(settings.job_retention < Duration::from_secs(2 * 24 * 3600));
    let mut conn = connect(&world.refresh_database).await;
    diesel::sql_query("UPDATE request_ids SET created_at = created_at - interval '2 days'")
        .execute(&mut conn)
        .await
        .expect("age the saved answers");

    // A scheduler pass ran to its end: `first` was queued by one pass, and `second`, made
    // due only afterwards, by a later one.
    for source in [first, second] {
        age(&world.refresh_database, &[source], 2 * HOUR).await;
        eventually("the scheduler to queue a due instance", WAIT, || {
            let mut client = client.clone();
            async move {
                let status = refresh_status(&mut client, account, source).await;
                status
                    .instances
                    .iter()
                    .filter_map(|instance| instance.job.as_ref())
                    .any(|job| job.trigger == refresh::RefreshTrigger::Schedule as i32)
                    .then_some(())
            }
        })
        .await;
    }

    assert_eq!(
        refresh_now().await.id,
        job.id,
        "a retry with the same request id answers the same"
    );
}
