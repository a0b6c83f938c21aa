//! The claim of a group of identical requests is bounded: a thousand accounts sharing one
//! request are fetched once per claim in groups of at most `MAX_SIBLINGS_PER_CLAIM` beside
//! the head, not all locked and leased by one claim.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use trellis_refresh::domain::job::{InstanceId, Trigger};
use trellis_refresh::store::jobs::{self, MAX_SIBLINGS_PER_CLAIM};
use trellis_refresh::store::rows::NewJob;
use trellis_testkit::TestDatabase;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_takes_a_bounded_group_of_identical_requests() {
    let database = TestDatabase::new(&trellis_refresh::SCHEMA).await;
    let mut conn = AsyncPgConnection::establish(&database.url)
        .await
        .expect("connect");
    let account = Uuid::new_v4();
    let siblings = MAX_SIBLINGS_PER_CLAIM as usize + 50;
    let queued: Vec<NewJob> = (0..=siblings)
        .map(|_| {
            let instance = InstanceId {
                data_source_id: Uuid::new_v4(),
                instance_key: "shared".into(),
            };
            NewJob::new(&instance, account, "", Trigger::Manual)
        })
        .collect();
    assert_eq!(
        jobs::enqueue(&mut conn, &queued).await.unwrap().len(),
        siblings + 1
    );

    let lease = Duration::from_secs(30);
    let first = jobs::claim(&mut conn, 1, lease).await.unwrap();
    assert_eq!(
        first.len(),
        1 + MAX_SIBLINGS_PER_CLAIM as usize,
        "the head and its bound"
    );
    assert!(first.iter().all(|job| job.instance_key == "shared"));
    let rest = jobs::claim(&mut conn, 1, lease).await.unwrap();
    assert_eq!(
        rest.len(),
        siblings - MAX_SIBLINGS_PER_CLAIM as usize,
        "the others next"
    );
    assert!(jobs::claim(&mut conn, 1, lease).await.unwrap().is_empty());
}
