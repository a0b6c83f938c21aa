//! Claims: first in first out, one job per instance, exclusive under concurrency, identical
//! requests together, and leases with their fencing.

use super::{LEASE, WAIT, claim_one, connect, instance, job, policy, succeed};
use chrono::Utc;
use std::collections::HashSet;
use std::time::Duration;
use trellis_refresh::domain::job::Lease;
use trellis_refresh::store::outcomes::{self};
use trellis_refresh::store::rows::NewJob;
use trellis_refresh::store::{cache, jobs};
use trellis_testkit::{TestDatabase, eventually};
use uuid::Uuid;

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
    assert_eq!(current.state.as_str(), "running", "still the new worker's");

    assert_eq!(succeed(&mut conn, &reclaimed).await, vec![reclaimed.id]);
    let done = jobs::get(&mut conn, stalled.id).await.unwrap().unwrap();
    assert_eq!(done.state.as_str(), "succeeded");
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
