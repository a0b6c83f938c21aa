//! The refresh use cases: RefreshNow (F3, F8: a manual refresh re-enables a disabled
//! instance), and reading a job, the queue's figures and a data source's refresh status
//! (with its fetch metrics).

use chrono::{DateTime, Utc};
use trellis_platform::auth::Caller;
use trellis_platform::db::{DbPool, connect};
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::library::v1::ResolvedRequest;
use trellis_proto::refresh::v1::RefreshNowResponse;
use uuid::Uuid;

use super::library_error;
use crate::api::convert as wire;
use crate::domain::job::{InstanceId, ResolvedInstance, Trigger};
use crate::peers::Peers;
use crate::peers::convert;
use crate::store::fetch_samples::{self, FetchMetrics};
use crate::store::queue_status::{self, Positioned, QueueFigures};
use crate::store::rows::{Instance, NewJob, RefreshJob};
use crate::store::{activity as activity_store, instances, jobs};

/// Queue positions returned at most.
const MAX_POSITIONS: i64 = 100;

/// A RefreshNow, checked: which instance of which account's data source.
pub struct RefreshNow<'a> {
    pub data_source_id: Uuid,
    pub account: Uuid,
    /// Empty: the instance the caller's own values resolve to.
    pub instance_key: &'a str,
    /// The caller's request id: a retry answers what the first call did.
    pub key: RequestKey<'a>,
}

/// Queues the instance now (or answers with the job already waiting or running for it).
pub async fn refresh_now(
    pool: &DbPool,
    peers: &Peers,
    caller: &Caller,
    request: RefreshNow<'_>,
) -> ApiResult<RefreshNowResponse> {
    let RefreshNow {
        data_source_id,
        account,
        instance_key,
        key,
    } = request;
    let instance = if instance_key.is_empty() {
        resolve_own(pool, peers, caller, data_source_id, account).await?
    } else {
        let id = InstanceId {
            data_source_id,
            instance_key: instance_key.to_owned(),
        };
        let mut conn = connect(pool).await?;
        match instances::get(&mut conn, &id).await? {
            Some(known) if known.account_id == account => id,
            _ => return Err(ApiError::not_found("data-source instance", instance_key)),
        }
    };

    let trace_context = crate::trace::current();
    replay::write(pool, &key, async move |conn| {
        // Jobs before the instance, the order a worker settling a job takes them in: the
        // other order deadlocks against a worker finishing this instance. A job whose
        // worker is gone is put back in line rather than returned as running forever.
        jobs::reclaim_expired_lease_of(conn, &instance).await?;
        let known = instances::get(conn, &instance)
            .await?
            .ok_or(StoreError::NotFound)?;
        let job = NewJob::new(&instance, account, &known.resolve_user_id, Trigger::Manual)
            .traced(trace_context);
        jobs::enqueue(conn, &[job]).await?;
        instances::re_enable(conn, &instance).await?;
        let job = jobs::active_job(conn, &instance)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(RefreshNowResponse {
            job: Some(wire::job(&job)),
        })
    })
    .await
}

/// The instance the caller's own values resolve the data source to, recorded; the library
/// checks that the caller may read the data source.
async fn resolve_own(
    pool: &DbPool,
    peers: &Peers,
    caller: &Caller,
    data_source_id: Uuid,
    account: Uuid,
) -> ApiResult<InstanceId> {
    let resolved = peers
        .resolve(data_source_id, account, "", Some(&caller.bearer))
        .await
        .map_err(|status| library_error(status, data_source_id))?;
    let instance = resolved_instance(caller, data_source_id, account, &resolved)?;
    let mut conn = connect(pool).await?;
    instances::upsert_resolved(&mut conn, std::slice::from_ref(&instance)).await?;
    Ok(instance.id)
}

fn resolved_instance(
    caller: &Caller,
    data_source_id: Uuid,
    account: Uuid,
    resolved: &ResolvedRequest,
) -> ApiResult<ResolvedInstance> {
    if !resolved.unresolved_properties.is_empty() {
        return Err(ApiError::precondition(
            "UNRESOLVED_PROPERTIES",
            format!("data source {data_source_id}"),
            format!(
                "these properties resolve to nothing, so the request cannot be sent: {}",
                resolved.unresolved_properties.join(", ")
            ),
        ));
    }
    // Only a data source with properties depends on the user (I13).
    let user = if caller.is_service() || resolved.properties.is_empty() {
        ""
    } else {
        caller.user()
    };
    Ok(convert::resolved_instance(
        data_source_id,
        account,
        user,
        resolved,
    ))
}

/// A job of `account`.
pub async fn job(pool: &DbPool, account: Uuid, id: Uuid) -> ApiResult<RefreshJob> {
    let mut conn = connect(pool).await?;
    match jobs::get(&mut conn, id).await? {
        Some(job) if job.account_id == account => Ok(job),
        _ => Err(ApiError::not_found("refresh job", id)),
    }
}

/// The queue's figures, of one account (with its jobs' positions) or of all (`None`).
pub async fn queue_status(
    pool: &DbPool,
    account: Option<Uuid>,
) -> ApiResult<(QueueFigures, Vec<Positioned>)> {
    let mut conn = connect(pool).await?;
    let figures = queue_status::figures(&mut conn, account).await?;
    let positions = match account {
        Some(account) => queue_status::positions(&mut conn, account, MAX_POSITIONS).await?,
        None => Vec::new(),
    };
    Ok((figures, positions))
}

/// What a data source's refresh status shows.
pub struct RefreshStatus {
    /// Each instance of the data source, with its waiting or running job, else its latest.
    pub instances: Vec<(Instance, Option<RefreshJob>)>,
    pub account_active_until: Option<DateTime<Utc>>,
    /// The data source's fetch times over its recent fetches in the account; `None` before
    /// any.
    pub metrics: Option<FetchMetrics>,
}

pub async fn refresh_status(
    pool: &DbPool,
    account: Uuid,
    data_source_id: Uuid,
) -> ApiResult<RefreshStatus> {
    let mut conn = connect(pool).await?;
    let known = instances::of_data_source(&mut conn, account, data_source_id).await?;
    let mut statuses = Vec::with_capacity(known.len());
    for instance in known {
        let id = InstanceId {
            data_source_id,
            instance_key: instance.instance_key.clone(),
        };
        let job = match jobs::active_job(&mut conn, &id).await? {
            Some(job) => Some(job),
            None => jobs::latest_job(&mut conn, &id).await?,
        };
        statuses.push((instance, job));
    }
    Ok(RefreshStatus {
        instances: statuses,
        account_active_until: activity_store::active_until(&mut conn, account).await?,
        metrics: fetch_samples::metrics(&mut conn, account, data_source_id).await?,
    })
}
