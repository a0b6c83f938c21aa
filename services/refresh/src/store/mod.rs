//! Diesel rows (`rows`), queries and transactions of the refresh service, one module per
//! table group.
//! Stores return [`StoreError`](trellis_platform::error::StoreError) and know nothing of gRPC.

pub mod activity;
pub mod cache;
pub mod deliveries;
pub mod fetch_samples;
pub mod instances;
pub mod jobs;
pub mod limits;
pub mod outcomes;
pub mod queue_status;
pub mod rows;
pub mod schedules;
pub mod schema;

use uuid::Uuid;

use crate::domain::job::Lease;

/// The ids and attempts of `leases`, as two arrays to `unnest` in a statement that fences
/// on both.
pub(crate) fn lease_columns(leases: &[Lease]) -> (Vec<Uuid>, Vec<i32>) {
    leases.iter().map(|l| (l.job_id, l.attempt)).unzip()
}
