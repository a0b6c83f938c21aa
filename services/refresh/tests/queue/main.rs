//! The refresh queue against a real PostgreSQL (F3, DESIGN.md section 7): FIFO claims, the
//! front of the queue for deferred and reclaimed jobs, dedup per instance, exclusive claims
//! under concurrency, leases and fencing, and the scheduler's choice of due instances
//! (F1, F2, F4); and the queue's figures, which a member sees of their own account only.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod claims;
#[path = "../common/mod.rs"]
mod common;
mod schedule;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use std::time::Duration;
use trellis_refresh::domain::backoff::BackoffPolicy;
use trellis_refresh::domain::job::{DataFormat, InstanceId, Trigger};
use trellis_refresh::store::jobs;
use trellis_refresh::store::outcomes::{self, Fetched};
use trellis_refresh::store::rows::{CachedData, NewJob, RefreshJob};
use uuid::Uuid;

pub(crate) const WAIT: Duration = Duration::from_secs(20);
pub(crate) const LEASE: Duration = Duration::from_secs(30);

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
        format: DataFormat::Json,
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
