//! Activity and the schedule it drives (F1, F2, F4).
//!
//! Recording an activity makes the account the caller is signed into active for the
//! activity window; only that account, never a partner's clients (F4). A login, or any
//! activity of an account that was inactive, resolves the account's data sources through
//! the library for the signed-in user (I13) and queues every instance that is due or past
//! due (F1). While the account stays active, the scheduler queues its instances as they
//! come due (F2).

use std::time::Duration;

use diesel_async::AsyncConnection;
use futures::StreamExt;
use tonic::{Code, Status};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiResult, StoreError};
use trellis_platform::idempotency;
use trellis_proto::refresh::v1::RecordActivityResponse;
use uuid::Uuid;

use crate::model::interval_ms;
use crate::model::{InstanceId, ResolvedInstance, Trigger};
use crate::peers::Peers;
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
            Ok(resolved) if resolved.unresolved_properties.is_empty() => Ok(Some(ResolvedInstance {
                id: InstanceId {
                    data_source_id: id,
                    instance_key: resolved.instance_key.clone(),
                },
                account_id,
                resolve_user_id: user.to_owned(),
                url: resolved.url.clone(),
                data_source_version: resolved.data_source_version,
                refresh_interval_ms: interval_ms(resolved.refresh_interval.as_ref()),
            })),
            Ok(resolved) => {
                tracing::debug!(data_source = %id, unresolved = ?resolved.unresolved_properties, "not scheduling a data source with unresolved properties");
                Ok(None)
            }
            Err(status) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => Err(status),
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

/// Records an activity of `user` in `account_id` and queues what it makes due.
pub async fn record(
    pool: &DbPool,
    peers: &Peers,
    policy: ActivityPolicy,
    account_id: Uuid,
    user: &str,
    kind: &str,
    is_login: bool,
    request_id: &str,
) -> ApiResult<RecordActivityResponse> {
    let window = policy.window;
    let scope = format!("{account_id}/{user}");
    const METHOD: &str = "RecordActivity";
    // The jobs this call queues continue its trace when a worker fetches them.
    let trace_context = crate::trace::current();
    let sync = {
        let mut conn = pool.get().await.map_err(StoreError::from)?;
        if let Some(answer) = idempotency::replay(&mut conn, &scope, METHOD, request_id).await? {
            return Ok(answer);
        }
        let was_active = activity::active_until(&mut conn, account_id)
            .await?
            .is_some_and(|until| until > chrono::Utc::now());
        // F1: a login, or the first activity of an inactive account, queues what is due;
        // a login of a user whose last one synced the active account moments ago does not
        // resolve everything again (the throttle), whoever loops it.
        // Concurrent calls of an inactive account claim the same sync: one resolves.
        if !was_active || is_login {
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

    let scope_in = scope.clone();
    let user = user.to_owned();
    let kind = kind.to_owned();
    let request_id = request_id.to_owned();
    let mut conn = pool.get().await.map_err(StoreError::from)?;
    let answer = conn
        .transaction::<_, StoreError, _>(async move |conn| {
            if let Some(answer) = idempotency::replay(conn, &scope_in, METHOD, &request_id).await? {
                return Ok(answer);
            }
            let recorded = activity::record(conn, account_id, &user, &kind, window).await?;
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
            let answer = RecordActivityResponse {
                queued_jobs: queued as i32,
                active_until: Some(crate::api::convert::timestamp(recorded.active_until)),
            };
            idempotency::remember(conn, &scope_in, METHOD, &request_id, &answer).await?;
            Ok(answer)
        })
        .await?;
    Ok(answer)
}
