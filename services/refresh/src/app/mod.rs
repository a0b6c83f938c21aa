//! The use cases of the refresh service: the work of each RPC, between the handlers in
//! `api` (which check and convert) and the stores. Each function takes typed, checked
//! input and answers with the records (or, for a write whose answer is remembered for its
//! request id, the answer itself).
//!
//! - `activity`: RecordActivity, and resolving an account's data sources (F1, F2, F4, I13).
//! - `refresh`: RefreshNow, and reading jobs, the queue and refresh status.
//! - `cached`: GetCachedData.
//! - `schedules`: the report schedule methods (F7).

pub mod activity;
pub mod cached;
pub mod refresh;
pub mod schedules;

use tonic::{Code, Status};
use trellis_platform::error::ApiError;
use trellis_platform::peer;
use uuid::Uuid;

/// A failed library call about a data source, as the caller should see it: a data source
/// the library does not know (or will not show) is this call's NOT_FOUND, a library that is
/// down or failing is UNAVAILABLE (`peer::upstream`).
pub(crate) fn library_error(status: Status, data_source_id: Uuid) -> ApiError {
    match status.code() {
        Code::NotFound => ApiError::not_found("data source", data_source_id),
        _ => peer::upstream("library")(status),
    }
}
