//! The saga lock within the connection pool: many executes of one plan on a small pool
//! neither hang nor open connections beyond it, and every wait for the lock ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use futures::future::join_all;
use trellis_imports::store::saga_lock::SagaLocks;
use trellis_platform::config::ServiceKind;
use trellis_platform::error::StoreError;
use trellis_proto::imports::v1 as imp;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_testkit::{InProcess, TestDatabase, TestServer};
use uuid::Uuid;

use crate::common::*;

/// The longest a burst of calls may take before it counts as hung.
const HUNG: Duration = Duration::from_secs(180);

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Connections to `database` other than the watcher's own, sampled until stopped; the
/// most seen at once.
struct ConnectionWatch {
    stop: Arc<AtomicBool>,
    most: Arc<AtomicI64>,
    task: tokio::task::JoinHandle<()>,
}

impl ConnectionWatch {
    async fn start(database: &TestDatabase) -> Self {
        let mut conn = database.connect().await;
        let stop = Arc::new(AtomicBool::new(false));
        let most = Arc::new(AtomicI64::new(0));
        let task = tokio::spawn({
            let (stop, most) = (stop.clone(), most.clone());
            async move {
                while !AtomicBool::load(&stop, Ordering::Relaxed) {
                    let now: Count = diesel::sql_query(
                        "SELECT count(*) AS count FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    )
                    .get_result(&mut conn)
                    .await
                    .expect("pg_stat_activity");
                    most.fetch_max(now.count, Ordering::Relaxed);
                    // A sampling interval, not a synchronisation.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });
        Self { stop, most, task }
    }

    async fn most(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the watcher");
        AtomicI64::load(&self.most, Ordering::Relaxed)
    }
}

/// The import service on `database` with a pool of `pool_size`.
async fn serve(
    peers: &Peers,
    database: &TestDatabase,
    pool_size: usize,
    settings: trellis_imports::Settings,
) -> TestServer {
    InProcess::new(ServiceKind::Imports, settings, trellis_imports::build)
        .configure(|common| {
            common.library_url = peers.library_service.server.url();
            common.tokens_url = peers.tokens_service.server.url();
        })
        .pool_size(pool_size)
        .serve(database)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn many_executes_of_one_plan_stay_within_a_small_pool() {
    const POOL: usize = 3;
    let peers = Peers::start().await;
    let database = TestDatabase::new(&trellis_imports::SCHEMA).await;
    let settings = trellis_imports::Settings {
        execute_wait: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let server = serve(&peers, &database, POOL, settings).await;
    let imports = ImportServiceClient::new(server.channel());
    let family = family(&peers.library_channel).await;
    let (_, _, board) = ops_dashboard(&peers.library, family.partner).await;
    let plan = plan(
        &imports,
        family.client_a,
        family.partner,
        vec![dashboard_ref(&board.id)],
    )
    .await
    .expect("a plan");
    let watch = ConnectionWatch::start(&database).await;

    // Forty at once: half retry one request id, half bring their own.
    let shared_id = request_id();
    let burst = (0..40).map(|i| {
        let (imports, plan) = (imports.clone(), plan.clone());
        let id = if i % 2 == 0 {
            shared_id.clone()
        } else {
            request_id()
        };
        async move { (execute(&imports, family.client_a, &plan, &id).await, id) }
    });
    let answers = tokio::time::timeout(HUNG, join_all(burst))
        .await
        .expect("the executes end");
    let mut made = None;
    // Whichever request made the import, shared or not, is the one retried below.
    let mut maker = None;
    for (answer, id) in answers {
        match answer {
            Ok(import) => {
                assert_eq!(made.get_or_insert(import.id.clone()), &import.id);
                assert_eq!(maker.get_or_insert(id.clone()), &id, "one request made it");
            }
            Err(status) => {
                let violations = preconditions::<()>(Err(status));
                assert_eq!(violations[0].r#type, "PLAN_EXECUTED", "{violations:?}");
            }
        }
    }
    let made = made.expect("one execute made the import");
    let maker = maker.expect("the request that made it");

    // Then fifty retries of the request that made it, each driving the import's saga.
    let retries = (0..50).map(|_| {
        let (imports, plan, id) = (imports.clone(), plan.clone(), maker.clone());
        async move { execute(&imports, family.client_a, &plan, &id).await }
    });
    let retried = tokio::time::timeout(HUNG, join_all(retries))
        .await
        .expect("the retries end");
    for answer in retried {
        let import = answer.expect("a retry answers with the import");
        assert_eq!(import.id, made);
        assert_eq!(
            import.state(),
            imp::ImportState::Succeeded,
            "{}",
            import.error
        );
    }
    let most = watch.most().await;
    assert!(most >= 1, "the watch sees the service's connections");
    assert!(
        most <= POOL as i64,
        "{most} connections to the import database with a pool of {POOL}"
    );
    assert_eq!(
        asset_counts(&peers.library, family.client_a).await,
        [1, 1, 1],
        "one copy"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saga_lock_held_elsewhere_or_a_full_process_ends_the_wait() {
    let database = TestDatabase::new(&trellis_imports::SCHEMA).await;
    // Two replicas' worth of locks, each over a pool of two: one saga slot each.
    let here = SagaLocks::new(trellis_platform::db::pool(&database.url, 2).expect("a pool"));
    let there = SagaLocks::new(trellis_platform::db::pool(&database.url, 2).expect("a pool"));
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let wait = Duration::from_millis(300);

    let held = there
        .acquire(first, wait)
        .await
        .expect("the lock")
        .expect("free");
    // Another replica holds it: the wait ends without the lock, as often as asked.
    for _ in 0..3 {
        assert!(here.acquire(first, wait).await.expect("no error").is_none());
        assert!(
            here.acquire(first, Duration::ZERO)
                .await
                .expect("no error")
                .is_none()
        );
    }
    // This process's one slot is taken by `second`: a third import waits, then is told.
    let driving = here
        .acquire(second, wait)
        .await
        .expect("the lock")
        .expect("free");
    let third = here.acquire(Uuid::now_v7(), wait).await;
    assert!(
        matches!(third, Err(StoreError::Unavailable(ref why)) if why.contains("slot")),
        "{:?}",
        third.err()
    );
    // The same import in the same process queues in the process and ends without it.
    assert!(
        here.acquire(second, wait)
            .await
            .expect("no error")
            .is_none()
    );

    // Released, each is free again, and no lock is left behind on a pooled connection.
    driving.release().await;
    held.release().await;
    let again = here
        .acquire(first, wait)
        .await
        .expect("the lock")
        .expect("released by the other replica");
    again.release().await;
    let mut conn = database.connect().await;
    let left: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE l.locktype = 'advisory' AND d.datname = $1",
    )
    .bind::<Text, _>(&database.name)
    .get_result(&mut conn)
    .await
    .expect("pg_locks");
    assert_eq!(left.count, 0, "advisory locks left held");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_longer_than_any_deadline_is_taken_as_the_longest() {
    let database = TestDatabase::new(&trellis_imports::SCHEMA).await;
    let locks = SagaLocks::new(trellis_platform::db::pool(&database.url, 2).expect("a pool"));
    // No deadline or lock_timeout can hold this wait: it is taken as MAX_WAIT.
    let lock = locks
        .acquire(Uuid::now_v7(), Duration::MAX)
        .await
        .expect("no error")
        .expect("free");
    lock.release().await;
}
