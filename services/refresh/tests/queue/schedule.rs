//! The choice of due instances (F1, F2, F4), backoff after failures (F8), and the queue's
//! figures, which a member sees of their own account only.

use super::{claim_one, data, instance, job, succeed};
use crate::common;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use std::time::Duration;
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_refresh::domain::backoff::BackoffPolicy;
use trellis_refresh::domain::job::{InstanceId, ResolvedInstance, Trigger};
use trellis_refresh::store::outcomes::{self, Fetched};
use trellis_refresh::store::rows::Instance;
use trellis_refresh::store::{activity, instances, jobs};
use trellis_testkit::{TestDatabase, tokens};
use uuid::Uuid;

fn resolved(account: Uuid, key: &str, interval: Duration) -> ResolvedInstance {
    ResolvedInstance {
        id: instance(key),
        account_id: account,
        resolve_user_id: String::new(),
        url: format!("https://api.example.com/{key}"),
        data_source_version: 1,
        refresh_interval_ms: interval.as_millis() as i64,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_due_instances_are_queued_on_activity_and_only_for_active_accounts() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let hourly = Duration::from_secs(3600);
    let fresh = resolved(account, "fresh", hourly);
    let stale = resolved(account, "stale", hourly);
    let never = resolved(account, "never-fetched", hourly);
    let manual = resolved(account, "manual-only", Duration::ZERO);
    instances::upsert_resolved(
        &mut conn,
        &[fresh.clone(), stale.clone(), never.clone(), manual.clone()],
    )
    .await
    .unwrap();

    // `fresh` was fetched a minute ago, `stale` two hours ago.
    for (instance, ago) in [(&fresh, 60), (&stale, 7200)] {
        jobs::enqueue(&mut conn, &[job(&instance.id, account)])
            .await
            .unwrap();
        let running = claim_one(&mut conn).await.unwrap();
        let fetched = [Fetched {
            lease: running.lease(),
            data_source_version: 1,
        }];
        let mut old = data(&instance.id.instance_key);
        old.fetch_time = Utc::now() - chrono::Duration::seconds(ago);
        outcomes::succeed(&mut conn, None, &fetched, &old)
            .await
            .unwrap();
    }

    let all: Vec<InstanceId> = [&fresh, &stale, &never, &manual]
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let queued = instances::enqueue_due(&mut conn, account, &all, Trigger::Activity, None)
        .await
        .unwrap();
    let mut keys = Vec::new();
    for id in &queued {
        keys.push(
            jobs::get(&mut conn, *id)
                .await
                .unwrap()
                .unwrap()
                .instance_key,
        );
    }
    assert_eq!(
        keys,
        ["stale", "never-fetched"],
        "F1: due or past due only, in order"
    );

    // F2: with nobody active, the scheduler queues nothing; once active, the due ones.
    while claim_one(&mut conn).await.is_some() {}
    let other_account = Uuid::new_v4();
    let elsewhere = resolved(other_account, "elsewhere", hourly);
    instances::upsert_resolved(&mut conn, std::slice::from_ref(&elsewhere))
        .await
        .unwrap();
    let scheduler_pass = async |conn: &mut AsyncPgConnection| {
        instances::enqueue_due_of_active_accounts(conn, 100)
            .await
            .unwrap()
    };
    assert_eq!(
        scheduler_pass(&mut conn).await,
        0,
        "no activity, nothing queued"
    );
    activity::record(&mut conn, other_account, "u", "dashboard_view", hourly)
        .await
        .unwrap();
    assert_eq!(
        scheduler_pass(&mut conn).await,
        1,
        "only the active account's due instance"
    );
    assert_eq!(
        claim_one(&mut conn).await.unwrap().instance_key,
        "elsewhere"
    );
}

/// Queues, claims and fails one job of `instance` with an HTTP 500; the instance afterwards.
async fn fail_once(
    conn: &mut AsyncPgConnection,
    instance: &InstanceId,
    account: Uuid,
    policy: &BackoffPolicy,
) -> Instance {
    jobs::enqueue(conn, &[job(instance, account)])
        .await
        .unwrap();
    let running = claim_one(conn).await.unwrap();
    outcomes::fail(conn, None, &[running.lease()], "HTTP 500", true, policy)
        .await
        .unwrap();
    instances::get(conn, instance).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_back_off_by_the_configured_steps_and_disable_the_instance() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let broken = resolved(account, "broken", Duration::from_secs(60));
    instances::upsert_resolved(&mut conn, std::slice::from_ref(&broken))
        .await
        .unwrap();
    let policy = BackoffPolicy::new("1:5m,3:30m,5:6h".parse().unwrap(), 7);

    let expected_minutes = [5, 5, 30, 30, 360, 360];
    for (failure, minutes) in expected_minutes.iter().enumerate() {
        let before = Utc::now();
        let state = fail_once(&mut conn, &broken.id, account, &policy).await;
        assert_eq!(state.consecutive_failures, failure as i32 + 1);
        assert_eq!(state.last_error, "HTTP 500");
        let wait = state.backoff_until.unwrap() - before;
        assert!(
            (wait.num_seconds() - minutes * 60).abs() <= 5,
            "after {} failures the wait is {minutes} minutes, not {wait}",
            failure + 1
        );
        assert_eq!(state.next_due_time, state.backoff_until);
        assert!(!state.disabled);
    }
    let state = fail_once(&mut conn, &broken.id, account, &policy).await;
    assert!(state.disabled, "disabled after 7 consecutive failures");
    assert_eq!(state.next_due_time, None, "and never due on schedule");

    // A success clears the failures.
    instances::re_enable(&mut conn, &broken.id).await.unwrap();
    jobs::enqueue(&mut conn, &[job(&broken.id, account)])
        .await
        .unwrap();
    let running = claim_one(&mut conn).await.unwrap();
    succeed(&mut conn, &running).await;
    let state = instances::get(&mut conn, &broken.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_error, "");
    assert!(!state.disabled && state.backoff_until.is_none());
    assert_eq!(state.fetch_count, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_sees_the_queue_figures_of_their_own_account_only() {
    let world = common::World::start().await;
    let mut settings = common::fast_settings();
    // An API-only replica: jobs stay queued.
    settings.workers = 0;
    let replica = world.replica(settings).await;
    let mut client = common::refresh_client(&replica);
    let hourly = Duration::from_secs(3600);
    let a = world.account(library::AccountKind::Standard, None).await;
    let b = world.account(library::AccountKind::Standard, None).await;
    world.member(a, "al", Role::Viewer).await;
    world.member(b, "bo", Role::Viewer).await;
    let mut theirs = Vec::new();
    for i in 0..3 {
        let url = world.api.url(&format!("/b/{i}"));
        theirs.push(world.data_source(b, &url, hourly).await);
    }
    let mut mine = Vec::new();
    for i in 0..2 {
        let url = world.api.url(&format!("/a/{i}"));
        mine.push(world.data_source(a, &url, hourly).await);
    }
    // B's three jobs are queued first, then A's two.
    assert_eq!(common::login(&mut client, b, "bo").await.queued_jobs, 3);
    assert_eq!(common::login(&mut client, a, "al").await.queued_jobs, 2);

    let status = |account_id: String, bearer: String| {
        let mut client = client.clone();
        async move {
            client
                .get_queue_status(common::call(
                    refresh::GetQueueStatusRequest { account_id },
                    &bearer,
                ))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    // A's member, without an account id or with A's own: A's two jobs, not B's three.
    for account_id in [String::new(), a.to_string()] {
        let figures = status(account_id.clone(), tokens::viewer(a))
            .await
            .expect("a member reads the account's figures");
        assert_eq!(figures.depth, 2, "A's jobs only ({account_id:?})");
        assert_eq!(figures.deferred_count, 0);
        assert_eq!(figures.running_count, 0);
        assert!(figures.oldest_wait.is_some());
        let positions = common::positions(&figures);
        assert_eq!(
            positions,
            [(mine[0].to_string(), 4), (mine[1].to_string(), 5)],
            "A's jobs, behind B's three"
        );
    }
    // B's figures are not A's members' to read, whatever their role.
    for bearer in [tokens::viewer(a), tokens::admin(a)] {
        let denied = status(b.to_string(), bearer)
            .await
            .expect_err("another account's figures");
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    // B's member sees B's three.
    let figures = status(String::new(), tokens::viewer(b)).await.unwrap();
    assert_eq!(figures.depth, 3);
    assert_eq!(figures.positions.len(), 3);
    // The whole queue is an operator's to see.
    let global = status(String::new(), tokens::service()).await.unwrap();
    assert_eq!(global.depth, 5);
    assert!(global.positions.is_empty());
    let of_b = status(b.to_string(), tokens::service()).await.unwrap();
    assert_eq!(of_b.depth, 3, "an operator asks for one account's figures");
}
