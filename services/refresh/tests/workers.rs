//! Workers end to end: API limits shared by replicas through PostgreSQL (F5), a worker
//! killed mid-job, and replicas that never run one job at the same time. The library and the
//! token registry run as the real services, the OAuth provider and the data API as real
//! servers on loopback, and the killed worker as the real binary in its own process.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::tokens::v1::ApiLimit;
use trellis_testkit::data_api::{Auth, Limits};
use trellis_testkit::eventually;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::process::{ServiceProcess, binary};

#[tokio::test(flavor = "multi_thread")]
async fn an_api_limited_to_n_at_once_and_r_per_second_is_never_exceeded_and_answers_no_429() {
    const AT_ONCE: usize = 2;
    const PER_SECOND: usize = 5;
    const SOURCES: usize = 24;
    let world = World::start().await;
    let oauth = Arc::new(OAuthServer::start(OAuthServerConfig::default()).await);
    let api = &world.api;
    // The API accepts the provider's access tokens and enforces its limits per token and
    // overall, answering 429 past them.
    let checker = oauth.clone();
    api.require(Auth::Bearer(Arc::new(move |token: &str| {
        checker.is_access_token_valid(token)
    })));
    let limits = Limits {
        max_concurrent: Some(AT_ONCE),
        per_second: Some(PER_SECOND),
    };
    api.limit_overall(limits);
    api.limit_per_credential(limits);

    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "analyst", Role::Viewer).await;
    // The same limits, configured with the provider in the token registry.
    let token = world
        .oauth_token(
            &oauth,
            account,
            ApiLimit {
                requests_per_period: PER_SECOND as i32,
                period: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                max_concurrent: AT_ONCE as i32,
                additional_rates: Vec::new(),
            },
        )
        .await;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        let path = format!("/ga/{i}");
        api.set_json(&path, serde_json::json!({"profile": i, "sessions": i * 10}));
        // Slow and quick answers alternate: the slow ones alone would put more than two in
        // flight at once, the quick ones more than five in a second.
        let delay = if i % 2 == 0 { 700 } else { 30 };
        api.set_delay(&path, Duration::from_millis(delay));
        sources.push(
            world
                .data_source_with(
                    account,
                    &api.url(&path),
                    HOUR,
                    Some(library::data_source_auth::Method::TokenId(token.clone())),
                    "",
                )
                .await,
        );
    }

    // Two replicas with eight workers each share the limits through PostgreSQL.
    let first = world.replica(fast_settings_with_workers(8)).await;
    let _second = world.replica(fast_settings_with_workers(8)).await;
    let mut client = refresh_client(&first);
    let started = std::time::Instant::now();
    assert_eq!(
        login(&mut client, account, "analyst").await.queued_jobs,
        SOURCES as i32
    );
    wait_until_fetched(&client, account, &sources).await;
    let took = started.elapsed();

    let max_at_once = api.max_concurrency();
    let max_per_second = api.max_per_second();
    let rejected = api.rejected_429();
    println!(
        "limit {AT_ONCE} at once, {PER_SECOND}/s: {} requests in {took:?}, max at once {max_at_once}, max in a second {max_per_second}, 429s {rejected}",
        api.requests()
    );
    assert_eq!(api.requests(), SOURCES, "every data source fetched once");
    assert!(max_at_once <= AT_ONCE, "{max_at_once} at once");
    assert!(
        max_per_second <= PER_SECOND,
        "{max_per_second} in one second"
    );
    assert_eq!(rejected, 0, "the API never had to answer 429");
    assert!(
        api.arrivals().iter().all(|a| a.status == 200),
        "every request authorized and answered"
    );
}

fn fast_settings_with_workers(workers: usize) -> trellis_refresh::Settings {
    let mut settings = fast_settings();
    settings.workers = workers;
    settings.batch_size = workers;
    settings
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_job_loses_no_job_and_completes_it_once() {
    let world = World::start().await;
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let mut sources = Vec::new();
    for i in 0..4 {
        let path = format!("/k/{i}");
        api.set_json(&path, serde_json::json!(i));
        sources.push(world.data_source(account, &api.url(&path), HOUR).await);
    }
    // The first request is held open: the worker will be killed while waiting for it.
    api.hold_next("/k/0", 1);

    let env = world.process_env(&[
        ("TRELLIS_REFRESH_WORKERS", "1"),
        ("TRELLIS_REFRESH_BATCH_SIZE", "1"),
        ("TRELLIS_REFRESH_LEASE", "2s"),
    ]);
    let mut doomed =
        ServiceProcess::start(binary("trellis-refresh"), &world.refresh_database.url, &env).await;
    let mut client = refresh_client_at(&doomed.url());
    assert_eq!(login(&mut client, account, "ann").await.queued_jobs, 4);
    eventually("the first fetch to be in flight", WAIT, || {
        let held = api.held();
        async move { (held == 1).then_some(()) }
    })
    .await;
    doomed.kill().await;

    let survivor =
        ServiceProcess::start(binary("trellis-refresh"), &world.refresh_database.url, &env).await;
    let client = refresh_client_at(&survivor.url());
    wait_until_fetched(&client, account, &sources).await;
    api.release();

    let jobs = all_jobs(&world.refresh_database).await;
    assert_eq!(jobs.len(), 4, "no job lost, none duplicated: {jobs:?}");
    assert!(
        jobs.iter().all(|(_, state, _)| state == "succeeded"),
        "{jobs:?}"
    );
    let killed = jobs
        .iter()
        .find(|(source, _, _)| *source == sources[0])
        .unwrap();
    assert_eq!(
        killed.2, 2,
        "the killed worker's job was claimed again after its lease"
    );
    let counts = fetch_counts(&world.refresh_database).await;
    for source in &sources {
        assert_eq!(counts.get(source), Some(&1), "completed exactly once");
    }
    assert_eq!(api.requests_for("/k/0"), 2, "sent again by the survivor");
    for i in 1..4 {
        assert_eq!(api.requests_for(&format!("/k/{i}")), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_worker_replicas_never_run_one_job_at_the_same_time() {
    const SOURCES: usize = 16;
    let world = World::start().await;
    let api = &world.api;
    let account = world.account(library::AccountKind::Standard, None).await;
    world.member(account, "ann", Role::Viewer).await;
    let mut sources = Vec::new();
    for i in 0..SOURCES {
        let path = format!("/r/{i}");
        api.set_json(&path, serde_json::json!(i));
        // Each fetch outlasts the lease: only the renewals keep the job from being
        // reclaimed by the other replica.
        api.set_delay(&path, Duration::from_millis(1800));
        sources.push(world.data_source(account, &api.url(&path), HOUR).await);
    }
    let mut settings = fast_settings_with_workers(4);
    settings.lease = Duration::from_millis(1200);
    let first = world.replica(settings.clone()).await;
    let _second = world.replica(settings).await;
    let mut client = refresh_client(&first);
    assert_eq!(
        login(&mut client, account, "ann").await.queued_jobs,
        SOURCES as i32
    );
    wait_until_fetched(&client, account, &sources).await;

    let (most, path) = api.max_concurrency_per_path();
    assert_eq!(most, 1, "{path} was fetched by two workers at once");
    for i in 0..SOURCES {
        assert_eq!(
            api.requests_for(&format!("/r/{i}")),
            1,
            "/r/{i} fetched once"
        );
    }
    assert!(
        api.max_concurrency() > 4,
        "both replicas worked: {}",
        api.max_concurrency()
    );
    let jobs = all_jobs(&world.refresh_database).await;
    assert_eq!(jobs.len(), SOURCES);
    assert!(
        jobs.iter()
            .all(|(_, state, attempt)| state == "succeeded" && *attempt == 1),
        "each job claimed once: {jobs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_replica_hands_its_running_job_back_to_the_queue() {
    let world = World::start().await;
    let mut settings = fast_settings();
    // A lease far longer than the test: only a job handed back is claimable again in time.
    settings.lease = Duration::from_secs(3600);
    let mut stopping = world.replica(settings).await;
    world.api.set_json("/slow", serde_json::json!(1));
    world.api.hold_next("/slow", 1);
    let account = world.account(library::AccountKind::Standard, None).await;
    let source = world
        .data_source(account, &world.api.url("/slow"), HOUR)
        .await;
    let queued = refresh_now(&mut refresh_client(&stopping), account, source).await;
    eventually("the fetch to be in flight", WAIT, || {
        let held = world.api.held();
        async move { (held == 1).then_some(()) }
    })
    .await;

    stopping.stop().await;
    assert_eq!(
        all_jobs(&world.refresh_database).await,
        [(source, "queued".to_owned(), 1)],
        "queued again, not running behind a lease nobody renews"
    );

    world.api.release();
    let replica = world.replica(fast_settings()).await;
    let finished = jobs::wait_for_job(
        &refresh_client(&replica),
        account,
        &queued.id,
        "another replica to finish the job",
        |state| state == refresh::RefreshJobState::Succeeded,
    )
    .await;
    assert_eq!(finished.attempt, 2, "claimed once by each replica");
}
