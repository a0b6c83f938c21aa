//! Activity and the schedule it drives (F1, F2, F4).
//!
//! Recording an activity makes the account the caller is signed into active for the
//! activity window; only that account, never a partner's clients (F4). A login, or any
//! activity of an account that was inactive, resolves the account's data sources through
//! the library for the signed-in user (I13) and queues every instance that is due or past
//! due (F1). While the account stays active, the scheduler queues its instances as they
//! come due (F2).

use std::time::Duration;

use futures::StreamExt;
use tonic::Status;
use trellis_platform::db::{DbPool, connect};
use trellis_platform::error::ApiResult;
use trellis_platform::peer;
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::refresh::v1::RecordActivityResponse;
use uuid::Uuid;

use crate::domain::job::{InstanceId, ResolvedInstance, Trigger};
use crate::peers::Peers;
use crate::peers::convert::resolved_instance;
use crate::store::{activity, instances};

/// Data sources resolved at once while syncing an account.
const RESOLVE_CONCURRENCY: usize = 8;

/// Resolves every scheduled data source of an account for `user`, in the library's order.
/// Data sources with unresolved properties are left out (they cannot be sent); the call
/// fails only when the library cannot be reached.
pub async fn resolve_account(
    peers: &Peers,
    account_id: Uuid,
    user: &str,
) -> Result<Vec<ResolvedInstance>, Status> {
    let data_sources = peers.list_data_sources(account_id).await?;
    let resolutions = futures::stream::iter(data_sources.into_iter().filter(|ds| {
        ds.refresh_interval
            .as_ref()
            .is_some_and(|d| d.seconds > 0 || d.nanos > 0)
    }))
    .map(|ds| async move {
        let Ok(id) = Uuid::parse_str(&ds.id) else {
            return Ok(None);
        };
        // Only a dynamic data source depends on the user's variable values.
        let user = if ds.template_properties.is_empty() { "" } else { user };
        match peers.resolve(id, account_id, user, None).await {
            Ok(resolved) if resolved.unresolved_properties.is_empty() => {
                Ok(Some(resolved_instance(id, account_id, user, &resolved)))
            }
            Ok(resolved) => {
                tracing::debug!(data_source = %id, unresolved = ?resolved.unresolved_properties, "not scheduling a data source with unresolved properties");
                Ok(None)
            }
            Err(status) if peer::is_transient(&status) => Err(status),
            Err(status) => {
                tracing::warn!(data_source = %id, code = ?status.code(), message = status.message(), "cannot resolve a data source");
                Ok(None)
            }
        }
    })
    .buffered(RESOLVE_CONCURRENCY)
    .collect::<Vec<Result<Option<ResolvedInstance>, Status>>>()
    .await;
    let mut resolved = Vec::new();
    for resolution in resolutions {
        resolved.extend(resolution?);
    }
    Ok(resolved)
}

/// How activity is recorded: the window it makes an account active for, and how often one
/// user's logins may resolve an account's data sources again.
#[derive(Debug, Clone, Copy)]
pub struct ActivityPolicy {
    pub window: Duration,
    pub throttle: Duration,
}

/// A RecordActivity, checked: who was active in which account, doing what.
pub struct Activity<'a> {
    pub account_id: Uuid,
    pub user: &'a str,
    /// `login`, `dashboard_view`, `klip_editor` or `library`.
    pub kind: &'static str,
    pub key: RequestKey<'a>,
}

/// Records an activity and queues what it makes due.
pub async fn record(
    pool: &DbPool,
    peers: &Peers,
    policy: ActivityPolicy,
    checked: Activity<'_>,
) -> ApiResult<RecordActivityResponse> {
    let (account_id, user, kind, key) =
        (checked.account_id, checked.user, checked.kind, &checked.key);
    // The jobs this call queues continue its trace when a worker fetches them.
    let trace_context = crate::trace::current();
    let sync = {
        let mut conn = connect(pool).await?;
        // A retry gets the first answer, and resolves nothing again.
        if let Some(answer) = key.replay(&mut conn).await? {
            return Ok(answer);
        }
        let was_active = activity::active_until(&mut conn, account_id)
            .await?
            .is_some_and(|until| until > chrono::Utc::now());
        // F1: a login, or the first activity of an inactive account, queues what is due;
        // a login of a user whose last one synced the active account moments ago does not
        // resolve everything again (the throttle), whoever loops it.
        // Concurrent calls of an inactive account claim the same sync: one resolves.
        if !was_active || kind == "login" {
            let claimed =
                activity::claim_sync(&mut conn, account_id, user, policy.throttle).await?;
            if !claimed {
                tracing::debug!(account = %account_id, "activity within the activity throttle; nothing resolved");
            }
            claimed
        } else {
            false
        }
    };

    let resolved = if sync {
        match resolve_account(peers, account_id, user).await {
            Ok(resolved) => Some(resolved),
            Err(status) => {
                tracing::warn!(account = %account_id, code = ?status.code(), message = status.message(), "cannot resolve the account's data sources; queueing its known instances");
                None
            }
        }
    } else {
        None
    };

    replay::write(pool, key, async |conn| {
        let recorded = activity::record(conn, account_id, user, kind, policy.window).await?;
        let mut queued = 0;
        if sync {
            let wanted: Vec<InstanceId> = match &resolved {
                Some(resolved) => {
                    instances::upsert_resolved(conn, resolved).await?;
                    activity::mark_synced(conn, account_id).await?;
                    resolved.iter().map(|r| r.id.clone()).collect()
                }
                None => instances::known_of_account(conn, account_id).await?,
            };
            queued = instances::enqueue_due(
                conn,
                account_id,
                &wanted,
                Trigger::Activity,
                trace_context.as_ref(),
            )
            .await?
            .len();
        }
        Ok(RecordActivityResponse {
            queued_jobs: queued as i32,
            active_until: Some(crate::api::convert::timestamp(recorded.active_until)),
        })
    })
    .await
}
