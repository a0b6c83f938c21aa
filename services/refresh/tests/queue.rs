//! The refresh queue against a real PostgreSQL (F3, DESIGN.md section 7): FIFO claims, the
//! front of the queue for deferred and reclaimed jobs, dedup per instance, exclusive claims
//! under concurrency, leases and fencing, and the scheduler's choice of due instances
//! (F1, F2, F4); and the queue's figures, which a member sees of their own account only.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_refresh::backoff::BackoffPolicy;
use trellis_refresh::model::{
    CachedData, InstanceId, Lease, NewJob, RefreshJob, ResolvedInstance, Trigger,
};
use trellis_refresh::store::outcomes::{self, Fetched};
use trellis_refresh::store::{activity, cache, instances, jobs};
use trellis_testkit::{TestDatabase, eventually, tokens};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);
const LEASE: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url).await.expect("connect")
}

fn instance(key: &str) -> InstanceId {
    InstanceId {
        data_source_id: Uuid::new_v4(),
        instance_key: key.to_owned(),
    }
}

fn job(instance: &InstanceId, account: Uuid) -> NewJob {
    NewJob::new(instance, account, "", Trigger::Manual)
}

async fn claim_one(conn: &mut AsyncPgConnection) -> Option<RefreshJob> {
    let mut claimed = jobs::claim(conn, 1, LEASE).await.unwrap();
    assert!(
        claimed.len() <= 1,
        "one job asked, {} claimed",
        claimed.len()
    );
    claimed.pop()
}

fn policy() -> BackoffPolicy {
    BackoffPolicy::new("1:5m,3:30m,5:6h".parse().unwrap(), 20)
}

fn data(key: &str) -> CachedData {
    CachedData {
        instance_key: key.to_owned(),
        format: "json".into(),
        data: serde_json::json!({"ok": true}),
        content_hash: "hash".into(),
        size_bytes: 11,
        fetch_time: Utc::now(),
    }
}

async fn succeed(conn: &mut AsyncPgConnection, job: &RefreshJob) -> Vec<Uuid> {
    let fetched = [Fetched {
        lease: job.lease(),
        data_source_version: 1,
    }];
    outcomes::succeed(conn, None, &fetched, &data(&job.instance_key))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_claimed_first_in_first_out_and_a_deferred_job_returns_to_the_front() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(instance);
    jobs::enqueue(
        &mut conn,
        &[job(&a, account), job(&b, account), job(&c, account)],
    )
    .await
    .unwrap();

    let first = claim_one(&mut conn).await.unwrap();
    assert_eq!(
        first.instance_key, "a",
        "FIFO: the first queued is claimed first"
    );
    // A is deferred (an API limit, F5) for a moment; B is claimed meanwhile and D queued
    // after A's deferral began.
    let until = Utc::now() + chrono::Duration::milliseconds(300);
    outcomes::defer(&mut conn, None, &[first.lease()], until, &[])
        .await
        .unwrap();
    assert_eq!(claim_one(&mut conn).await.unwrap().instance_key, "b");
    jobs::enqueue(&mut conn, &[job(&d, account)]).await.unwrap();

    // Once its deferral ends, A goes before C and D, which were queued after it (F3).
    eventually("the deferral to end", WAIT, || {
        let url = database.url.clone();
        async move {
            let mut conn = connect(&url).await;
            (jobs::promote_due_deferred(&mut conn).await.unwrap() == 1).then_some(())
        }
    })
    .await;
    let returned = claim_one(&mut conn).await.unwrap();
    assert_eq!(
        returned.instance_key, "a",
        "the deferred job is at the front"
    );
    assert!(returned.front);
    assert_eq!(returned.attempt, 2, "claimed twice");
    assert_eq!(claim_one(&mut conn).await.unwrap().instance_key, "c");
    assert_eq!(claim_one(&mut conn).await.unwrap().instance_key, "d");
    assert!(claim_one(&mut conn).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_has_at_most_one_waiting_or_running_job() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let a = instance("a");
    let queued = jobs::enqueue(&mut conn, &[job(&a, account), job(&a, account)])
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the second job of the instance is dropped");
    assert!(
        jobs::enqueue(&mut conn, &[job(&a, account)])
            .await
            .unwrap()
            .is_empty()
    );

    let running = claim_one(&mut conn).await.unwrap();
    assert!(
        jobs::enqueue(&mut conn, &[job(&a, account)])
            .await
            .unwrap()
            .is_empty(),
        "not while it runs either"
    );
    assert_eq!(succeed(&mut conn, &running).await, vec![running.id]);
    assert_eq!(
        jobs::enqueue(&mut conn, &[job(&a, account)])
            .await
            .unwrap()
            .len(),
        1,
        "once finished, the instance can be queued again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_workers_claim_every_job_exactly_once() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let queued: Vec<NewJob> = (0..300)
        .map(|i| job(&instance(&format!("k{i}")), account))
        .collect();
    jobs::enqueue(&mut conn, &queued).await.unwrap();

    let workers = (0..8).map(|_| {
        let url = database.url.clone();
        tokio::spawn(async move {
            let mut conn = connect(&url).await;
            let mut mine = Vec::new();
            loop {
                let claimed = jobs::claim(&mut conn, 7, LEASE).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        })
    });
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "every job claimed");
    assert_eq!(unique.len(), 300, "no job claimed twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_requests_waiting_together_are_claimed_together() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let shared_one = instance("same-request");
    let other = instance("other");
    let shared_two = instance("same-request");
    jobs::enqueue(
        &mut conn,
        &[
            job(&shared_one, account),
            job(&other, account),
            job(&shared_two, account),
        ],
    )
    .await
    .unwrap();
    let claimed = jobs::claim(&mut conn, 1, LEASE).await.unwrap();
    let keys: Vec<&str> = claimed.iter().map(|j| j.instance_key.as_str()).collect();
    assert_eq!(
        keys,
        ["same-request", "same-request"],
        "the head job brings its identical sibling, not the job between them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_is_reclaimed_and_the_old_worker_cannot_complete() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let account = Uuid::new_v4();
    let a = instance("a");
    jobs::enqueue(&mut conn, &[job(&a, account)]).await.unwrap();

    let short = Duration::from_millis(200);
    let stalled = jobs::claim(&mut conn, 1, short).await.unwrap().remove(0);
    assert_eq!(stalled.attempt, 1);
    assert!(
        jobs::claim(&mut conn, 1, LEASE).await.unwrap().is_empty(),
        "a leased job is not claimable"
    );

    eventually("the lease to expire and be reclaimed", WAIT, || {
        let url = database.url.clone();
        async move {
            let mut conn = connect(&url).await;
            (jobs::reclaim_expired_leases(&mut conn).await.unwrap() == 1).then_some(())
        }
    })
    .await;
    let reclaimed = claim_one(&mut conn).await.unwrap();
    assert_eq!(reclaimed.id, stalled.id);
    assert_eq!(reclaimed.attempt, 2, "the new claim is a new attempt");
    assert!(reclaimed.front, "a reclaimed job goes to the front");

    // The stalled worker wakes up: its renewal, deferral and completion change nothing.
    assert!(
        jobs::renew_leases(&mut conn, &[stalled.lease()], LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(succeed(&mut conn, &stalled).await.is_empty());
    assert!(
        outcomes::fail(&mut conn, None, &[stalled.lease()], "late", true, &policy())
            .await
            .unwrap()
            .is_empty()
    );
    let current = jobs::get(&mut conn, stalled.id).await.unwrap().unwrap();
    assert_eq!(current.state, "running", "still the new worker's");

    assert_eq!(succeed(&mut conn, &reclaimed).await, vec![reclaimed.id]);
    let done = jobs::get(&mut conn, stalled.id).await.unwrap().unwrap();
    assert_eq!(done.state, "succeeded");
    assert!(
        cache::get(&mut conn, "a").await.unwrap().is_some(),
        "the data is stored once, by the current attempt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewed_lease_is_not_reclaimed() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[job(&instance("a"), Uuid::new_v4())])
        .await
        .unwrap();
    let short = Duration::from_millis(300);
    let held = jobs::claim(&mut conn, 1, short).await.unwrap().remove(0);
    let lease = Lease {
        job_id: held.id,
        attempt: held.attempt,
    };
    // Twice the lease passes; renewed every third of it, the lease never runs out. (The
    // sleep is the passing time under test, not a wait for something to happen.)
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            jobs::renew_leases(&mut conn, &[lease], short)
                .await
                .unwrap(),
            vec![held.id]
        );
        assert_eq!(jobs::reclaim_expired_leases(&mut conn).await.unwrap(), 0);
    }
}

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
    assert_eq!(
        instances::enqueue_due_of_active_accounts(&mut conn, 100)
            .await
            .unwrap(),
        0,
        "no activity, nothing queued"
    );
    activity::record(&mut conn, other_account, "u", "dashboard_view", hourly)
        .await
        .unwrap();
    assert_eq!(
        instances::enqueue_due_of_active_accounts(&mut conn, 100)
            .await
            .unwrap(),
        1,
        "only the active account's due instance"
    );
    assert_eq!(
        claim_one(&mut conn).await.unwrap().instance_key,
        "elsewhere"
    );
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
        jobs::enqueue(&mut conn, &[job(&broken.id, account)])
            .await
            .unwrap();
        let running = claim_one(&mut conn).await.unwrap();
        let before = Utc::now();
        outcomes::fail(
            &mut conn,
            None,
            &[running.lease()],
            "HTTP 500",
            true,
            &policy,
        )
        .await
        .unwrap();
        let state = instances::get(&mut conn, &broken.id)
            .await
            .unwrap()
            .unwrap();
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
    jobs::enqueue(&mut conn, &[job(&broken.id, account)])
        .await
        .unwrap();
    let running = claim_one(&mut conn).await.unwrap();
    outcomes::fail(
        &mut conn,
        None,
        &[running.lease()],
        "HTTP 500",
        true,
        &policy,
    )
    .await
    .unwrap();
    let state = instances::get(&mut conn, &broken.id)
        .await
        .unwrap()
        .unwrap();
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
        let positions: Vec<(String, i64)> = figures
            .positions
            .iter()
            .map(|p| (p.job.as_ref().unwrap().data_source_id.clone(), p.position))
            .collect();
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
