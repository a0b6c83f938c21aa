//! Checks of report schedules that need more than the request: the caller's right to name
//! a user, the Klips or dashboard asked of the library, the etag, the account's quota.

use std::sync::Arc;

use futures::StreamExt;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use uuid::Uuid;

use super::report_wire;
use crate::model::ReportSchedule as StoredSchedule;
use crate::peers::Peers;
use crate::reports::prepare::is_gone;
use crate::reports::schedule::{MAX_KLIPS, Target};

/// Library calls made at once while checking a schedule's Klips.
const CHECK_CONCURRENCY: usize = 8;

/// The values of another user render a report only when a service sets it up, as the
/// library allows another user's values only to services.
pub(super) fn check_user(caller: &Caller, user_id: &str) -> ApiResult<()> {
    if user_id.is_empty() || caller.is_service() || user_id == caller.user() {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "a schedule may render with another user's values only when a service sets it".into(),
        ))
    }
}

/// Adds a violation for every Klip or dashboard that is not the account's. The library
/// answers the same for another tenant's ids and for ids that do not exist, and so does
/// this.
pub(super) async fn check_target(
    peers: &Arc<Peers>,
    account: Uuid,
    target: &Target,
    violations: &mut Violations,
) -> ApiResult<()> {
    match target {
        // Refused by its length already: no library call per id of a list of thousands.
        Target::Klips(ids) if ids.len() > MAX_KLIPS => {}
        Target::Klips(ids) => {
            let shared = peers.clone();
            let answers = futures::stream::iter(ids.clone().into_iter().enumerate())
                .map(move |(index, id)| {
                    let peers = shared.clone();
                    async move { (index, peers.klip(id, account).await) }
                })
                .buffered(CHECK_CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            for (index, answer) in answers {
                match answer {
                    Ok(_) => {}
                    Err(status) if is_gone(&status) => violations.add(
                        format!("schedule.klips.klip_ids[{index}]"),
                        "no Klip with this id in the account",
                    ),
                    Err(status) => return Err(ApiError::from(status)),
                }
            }
        }
        Target::Dashboard(id) if id.is_nil() => {}
        Target::Dashboard(id) => match peers.dashboard(*id, account).await {
            Ok(_) => {}
            Err(status) if is_gone(&status) => violations.add(
                "schedule.dashboard_id",
                "no dashboard with this id in the account",
            ),
            Err(status) => return Err(ApiError::from(status)),
        },
    }
    Ok(())
}

pub(super) fn etag_matches(sent: &str, stored: &StoredSchedule) -> ApiResult<()> {
    if sent.is_empty() || sent == report_wire::etag(stored) {
        Ok(())
    } else {
        Err(ApiError::Aborted(
            "the schedule changed since it was read (etag mismatch); read it again".into(),
        ))
    }
}

pub(super) fn store_error(error: StoreError, id: Uuid) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("report schedule", id),
        other => other.into(),
    }
}

/// The answer to a create past the account's quota of schedules.
pub(super) fn quota_exceeded(account: Uuid, existing: i64, quota: u32) -> ApiError {
    ApiError::ResourceExhausted {
        message: format!(
            "account {account} has {existing} report schedules, the most an account may have ({quota}); delete one before creating another"
        ),
        retry_after: None,
    }
}
