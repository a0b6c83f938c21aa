//! API limits (F5). Here, the limiter in PostgreSQL: permits of a rate and a concurrency cap
//! shared by every worker, deferral to the earliest time a permit frees, permits that free
//! themselves when their holder dies, a 429 holding back the whole token, the slots of pages
//! and the time a job waited. In `limits/`, the service end to end against the loopback
//! data API: several periods at once (`periods`), the Google Analytics profile limit
//! (`profile`), a credential's limit shared by its copies (`copies`), a data source's key
//! limit per family (`families`), a host's limit from the setting (`hosts`), and the fetch
//! figures GetRefreshStatus shows (`status`), pages waiting for the rates' slots (`pages`).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;
#[path = "limits/copies.rs"]
mod copies;
#[path = "limits/families.rs"]
mod families;
#[path = "limits/hosts.rs"]
mod hosts;
#[path = "limits/pages.rs"]
mod pages;
#[path = "limits/periods.rs"]
mod periods;
#[path = "limits/profile.rs"]
mod profile;
#[path = "limits/setup.rs"]
mod setup;
#[path = "limits/status.rs"]
mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::Mutex;
use trellis_refresh::domain::job::{DataFormat, InstanceId, Trigger};
use trellis_refresh::domain::limits::LimitSpec;
use trellis_refresh::store::jobs;
use trellis_refresh::store::limits::{
    PageSlot, Permit, acquire_or_defer, hold_back, take_page_slot,
};
use trellis_refresh::store::outcomes::{self, Fetched};
use trellis_refresh::store::rows::{CachedData, NewJob, RefreshJob};
use trellis_testkit::data_api::max_in_window;
use trellis_testkit::{TestDatabase, eventually};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const LEASE: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url).await.expect("connect")
}

fn new_job(key: &str) -> NewJob {
    let instance = InstanceId {
        data_source_id: Uuid::new_v4(),
        instance_key: key.to_owned(),
    };
    NewJob::new(&instance, Uuid::new_v4(), "", Trigger::Schedule)
}

fn limit(key: &str, interval: Option<Duration>, cap: Option<u32>) -> LimitSpec {
    LimitSpec {
        key: key.to_owned(),
        emission_interval: interval,
        max_concurrent: cap,
    }
}

async fn complete(conn: &mut AsyncPgConnection, job: &RefreshJob) {
    let fetched = [Fetched {
        lease: job.lease(),
        data_source_version: 1,
    }];
    let data = CachedData {
        instance_key: job.instance_key.clone(),
        format: DataFormat::Json,
        data: serde_json::json!(1),
        content_hash: String::new(),
        size_bytes: 1,
        fetch_time: Utc::now(),
    };
    outcomes::succeed(conn, Some(job.lease()), &fetched, &data)
        .await
        .unwrap();
}

async fn acquire(conn: &mut AsyncPgConnection, job: &RefreshJob, specs: &[LimitSpec]) -> Permit {
    acquire_or_defer(
        conn,
        job.lease(),
        &[job.lease()],
        specs,
        job.defer_until.is_some(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_sharing_a_limit_never_exceed_its_rate_or_its_cap() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    const JOBS: usize = 30;
    let queued: Vec<NewJob> = (0..JOBS).map(|i| new_job(&format!("k{i}"))).collect();
    jobs::enqueue(&mut conn, &queued).await.unwrap();
    // 10 per second (with a 10% margin) and 2 at once.
    let specs = vec![limit(
        "token:shared",
        Some(Duration::from_millis(110)),
        Some(2),
    )];

    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let grants = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let claims = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let url = database.url.clone();
            let specs = specs.clone();
            let (in_flight, max_in_flight, grants, claims, done) = (
                in_flight.clone(),
                max_in_flight.clone(),
                grants.clone(),
                claims.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let mut conn = connect(&url).await;
                // A worker's own loop: it polls, as the real dispatcher does without
                // notifications.
                while done.load(Ordering::SeqCst) < JOBS {
                    jobs::promote_due_deferred(&mut conn).await.unwrap();
                    let Some(job) = jobs::claim(&mut conn, 1, LEASE).await.unwrap().pop() else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    claims.fetch_add(1, Ordering::SeqCst);
                    if acquire(&mut conn, &job, &specs).await == Permit::Granted {
                        grants.lock().await.push(Instant::now());
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max_in_flight.fetch_max(now, Ordering::SeqCst);
                        // The fetch.
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        complete(&mut conn, &job).await;
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        tokio::time::timeout(WAIT, worker)
            .await
            .expect("every job completes")
            .unwrap();
    }

    let grants = grants.lock().await.clone();
    assert_eq!(grants.len(), JOBS);
    let max_at_once = max_in_flight.load(Ordering::SeqCst);
    let max_per_second = max_in_window(grants, Duration::from_secs(1));
    let claims = claims.load(Ordering::SeqCst);
    println!("max at once {max_at_once}, max per second {max_per_second}, claims {claims}");
    assert!(max_at_once <= 2, "at most 2 at once, saw {max_at_once}");
    assert!(
        max_per_second <= 10,
        "at most 10 in a second, saw {max_per_second}"
    );
    // Deferred jobs come back one by one at the slots promised to them, not all at once:
    // the claims stay within a small multiple of the jobs (a herd returning together would
    // take about JOBS * JOBS / 2 claims). A grant that comes late pushes the next slots, so
    // some jobs come back twice.
    assert!(
        claims <= JOBS * 8,
        "{claims} claims for {JOBS} jobs: the deferred herd churns"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_permit_promotes_the_job_waiting_for_it() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[new_job("a"), new_job("b")])
        .await
        .unwrap();
    let specs = [limit("key:p:profile-1", None, Some(1))];
    let a = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    let b = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    assert_eq!(acquire(&mut conn, &a, &specs).await, Permit::Granted);
    let Permit::Deferred { until } = acquire(&mut conn, &b, &specs).await else {
        panic!("the cap is full");
    };
    let deferred = jobs::get(&mut conn, b.id).await.unwrap().unwrap();
    assert_eq!(deferred.state.as_str(), "deferred");
    assert_eq!(deferred.deferred_on.as_deref(), Some("key:p:profile-1"));
    // Without a release, B would wait for A's lease to expire.
    assert!(until > Utc::now() + chrono::Duration::seconds(20));

    complete(&mut conn, &a).await;
    let promoted = jobs::get(&mut conn, b.id).await.unwrap().unwrap();
    assert_eq!(
        promoted.state.as_str(),
        "queued",
        "A's release promoted B at once"
    );
    assert!(promoted.front);
    let b = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    assert_eq!(acquire(&mut conn, &b, &specs).await, Permit::Granted);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_workers_permit_frees_when_its_lease_expires() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[new_job("a"), new_job("b")])
        .await
        .unwrap();
    let specs = [limit("token:t", None, Some(1))];
    let short = Duration::from_millis(300);
    let dead = jobs::claim(&mut conn, 1, short).await.unwrap().remove(0);
    assert_eq!(acquire(&mut conn, &dead, &specs).await, Permit::Granted);
    // Its worker dies here, holding the permit.

    let b = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    let Permit::Deferred { until } = acquire(&mut conn, &b, &specs).await else {
        panic!("the cap is full");
    };
    let lease_deadline = dead.lease_deadline.unwrap();
    assert!(
        (until - lease_deadline).num_milliseconds().abs() < 50,
        "deferred to when the dead worker's permit expires ({until} vs {lease_deadline})"
    );

    let url = database.url.clone();
    let b = eventually("the deferral to end", WAIT, || {
        let url = url.clone();
        async move {
            let mut conn = connect(&url).await;
            jobs::promote_due_deferred(&mut conn).await.unwrap();
            jobs::claim(&mut conn, 1, LEASE)
                .await
                .unwrap()
                .into_iter()
                .find(|j| j.instance_key == "b")
        }
    })
    .await;
    assert_eq!(
        acquire(&mut conn, &b, &specs).await,
        Permit::Granted,
        "the expired permit no longer counts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_holds_back_every_request_of_the_token() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[new_job("a")]).await.unwrap();
    let specs = [limit("token:t", Some(Duration::from_millis(10)), None)];
    let until = Utc::now() + chrono::Duration::seconds(3);
    hold_back(&mut conn, &["token:t".to_owned()], until)
        .await
        .unwrap();
    let a = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    let Permit::Deferred { until: deferred } = acquire(&mut conn, &a, &specs).await else {
        panic!("held back");
    };
    assert!(deferred >= until - chrono::Duration::milliseconds(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_lost_its_lease_gets_no_permit() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[new_job("a")]).await.unwrap();
    let specs = [limit("token:t", None, Some(1))];
    let mut stale = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    stale.attempt -= 1;
    assert_eq!(acquire(&mut conn, &stale, &specs).await, Permit::LeaseLost);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_waits_for_the_next_slot_of_every_rate_and_never_past_the_bound() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    let specs = [
        limit("token:t", Some(Duration::from_millis(200)), Some(1)),
        limit("token:t#5000ms", Some(Duration::from_millis(400)), None),
    ];
    let bound = Duration::from_secs(1);
    assert_eq!(
        take_page_slot(&mut conn, &specs, bound).await.unwrap(),
        PageSlot::Taken {
            wait: Duration::ZERO
        },
        "the first slot is free"
    );
    // The slowest rate decides: 400 ms later, then 800 ms.
    let Ok(PageSlot::Taken { wait }) = take_page_slot(&mut conn, &specs, bound).await else {
        panic!("the next slot is within the bound");
    };
    assert!(
        wait > Duration::from_millis(300) && wait <= Duration::from_millis(400),
        "{wait:?}"
    );
    let Ok(PageSlot::Taken { wait }) = take_page_slot(&mut conn, &specs, bound).await else {
        panic!("the next slot is within the bound");
    };
    assert!(
        wait > Duration::from_millis(700),
        "each slot taken is reserved: {wait:?}"
    );
    let Ok(PageSlot::TooFar { wait }) = take_page_slot(&mut conn, &specs, bound).await else {
        panic!("1.2 s is past the bound");
    };
    assert!(wait > bound, "{wait:?}");
    // A page takes no permit: the cap of the fetch is untouched.
    jobs::enqueue(&mut conn, &[new_job("a")]).await.unwrap();
    let a = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    let cap_only = [limit("token:t", None, Some(1))];
    assert_eq!(acquire(&mut conn, &a, &cap_only).await, Permit::Granted);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_time_a_limit_deferred_a_job_is_counted_when_it_is_granted() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = database.connect().await;
    jobs::enqueue(&mut conn, &[new_job("a"), new_job("b")])
        .await
        .unwrap();
    let specs = [limit(
        "host:api.example.com",
        Some(Duration::from_millis(700)),
        None,
    )];
    let a = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    assert_eq!(acquire(&mut conn, &a, &specs).await, Permit::Granted);
    let b = jobs::claim(&mut conn, 1, LEASE).await.unwrap().remove(0);
    assert!(matches!(
        acquire(&mut conn, &b, &specs).await,
        Permit::Deferred { .. }
    ));
    let url = database.url.clone();
    let b = eventually("the deferral to end", WAIT, || {
        let url = url.clone();
        async move {
            let mut conn = connect(&url).await;
            jobs::promote_due_deferred(&mut conn).await.unwrap();
            jobs::claim(&mut conn, 1, LEASE).await.unwrap().pop()
        }
    })
    .await;
    assert_eq!(acquire(&mut conn, &b, &specs).await, Permit::Granted);
    let waits = limit_waits(&mut conn).await;
    assert_eq!(waits.get("a"), Some(&0), "{waits:?}");
    let b_wait = waits["b"];
    assert!(
        (500_000..5_000_000).contains(&b_wait),
        "b waited for the slot 700 ms on: {b_wait} us"
    );
}

/// Each job's counted wait for limits, by instance key, in microseconds.
async fn limit_waits(conn: &mut AsyncPgConnection) -> std::collections::HashMap<String, i64> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Wait {
        #[diesel(sql_type = diesel::sql_types::Text)]
        instance_key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        limit_wait_us: i64,
    }
    diesel::sql_query("SELECT instance_key, limit_wait_us FROM refresh_jobs")
        .load::<Wait>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.instance_key, w.limit_wait_us))
        .collect()
}
