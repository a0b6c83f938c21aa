//! gRPC handlers of `trellis.refresh.v1.RefreshService`: authorize, validate, call the
//! domain and the stores. The report schedule methods (F7) are in `reports`.

mod cached;
pub mod convert;
mod report_checks;
pub mod report_wire;
mod reports;

use std::sync::Arc;

use diesel_async::AsyncConnection;
use tokio::sync::Notify;
use tonic::{Code, Request, Response, Status};
use trellis_platform::auth::{Caller, caller};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::{idempotency, validate};
use trellis_proto::refresh::v1::refresh_service_server::RefreshService;
use trellis_proto::refresh::v1::*;
use uuid::Uuid;

use crate::activity;
use crate::model::{InstanceId, NewJob, ResolvedInstance, Trigger, interval_ms};
use crate::peers::Peers;
use crate::settings::Settings;
use crate::store::{activity as activity_store, instances, jobs};

/// Queue positions returned at most.
const MAX_POSITIONS: i64 = 100;
/// Characters of an instance key a caller names, at most (the library's keys are hashes).
const MAX_INSTANCE_KEY_CHARS: usize = 256;
/// Characters of a user id a caller names, at most (as the library accepts them).
const MAX_USER_CHARS: usize = 256;

pub use cached::{ANSWER_OVERHEAD, max_answer_bytes};

pub struct RefreshApi {
    pool: DbPool,
    peers: Arc<Peers>,
    settings: Settings,
    /// Wakes this replica's report loop when a schedule changes.
    reports_wake: Arc<Notify>,
}

impl RefreshApi {
    pub fn new(
        pool: DbPool,
        peers: Arc<Peers>,
        settings: Settings,
        reports_wake: Arc<Notify>,
    ) -> Self {
        Self {
            pool,
            peers,
            settings,
            reports_wake,
        }
    }

    async fn conn(&self) -> ApiResult<trellis_platform::db::DbConn> {
        Ok(self.pool.get().await.map_err(StoreError::from)?)
    }
}

/// Checks the free-text fields of a request before anything reaches the database or the
/// library: no NUL or control character, at most `max` characters (`(field, value, max)`).
fn check_text(fields: &[(&str, &str, usize)]) -> ApiResult<()> {
    let mut violations = Violations::new();
    for (field, value, max) in fields {
        validate::single_line(&mut violations, field, value, *max);
    }
    violations.into_result()
}

fn parse_id(field: &str, text: &str) -> ApiResult<Uuid> {
    if text.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Uuid::parse_str(text).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

/// The account a request is about: empty means the signed-in account; a user may name only
/// that one, a service token must name one.
fn account_of(caller: &Caller, requested: &str) -> ApiResult<Uuid> {
    if requested.is_empty() {
        if caller.is_service() {
            return Err(ApiError::invalid(
                "account_id",
                "required with a service token",
            ));
        }
        return caller.account();
    }
    let account = parse_id("account_id", requested)?;
    if caller.is_service() || caller.account()? == account {
        Ok(account)
    } else {
        Err(ApiError::PermissionDenied(
            "the account is not the one the token is signed into".into(),
        ))
    }
}

/// A failed library call about a data source, as the caller should see it.
fn library_error(status: Status, data_source_id: Uuid) -> ApiError {
    match status.code() {
        Code::NotFound => ApiError::not_found("data source", data_source_id),
        _ => ApiError::from(status),
    }
}

#[tonic::async_trait]
impl RefreshService for RefreshApi {
    async fn record_activity(
        &self,
        request: Request<RecordActivityRequest>,
    ) -> Result<Response<RecordActivityResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        if caller.is_service() {
            return Err(ApiError::PermissionDenied(
                "activity needs a user token: the activity of a service is not activity".into(),
            )
            .into());
        }
        idempotency::validate(&request.request_id)?;
        let kind = match ActivityKind::try_from(request.kind) {
            Ok(ActivityKind::Login) => "login",
            Ok(ActivityKind::DashboardView) => "dashboard_view",
            Ok(ActivityKind::KlipEditor) => "klip_editor",
            Ok(ActivityKind::Library) => "library",
            _ => return Err(ApiError::invalid("kind", "must be a known activity kind").into()),
        };
        // F4: only the account the user is signed into becomes active.
        let account = caller.account()?;
        let policy = activity::ActivityPolicy {
            window: self.settings.activity_window,
            throttle: self.settings.activity_throttle,
        };
        let answer = activity::record(
            &self.pool,
            &self.peers,
            policy,
            account,
            caller.user(),
            kind,
            kind == "login",
            &request.request_id,
        )
        .await?;
        Ok(Response::new(answer))
    }

    async fn refresh_now(
        &self,
        request: Request<RefreshNowRequest>,
    ) -> Result<Response<RefreshNowResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        caller.require_writer()?;
        idempotency::validate(&request.request_id)?;
        check_text(&[(
            "instance_key",
            &request.instance_key,
            MAX_INSTANCE_KEY_CHARS,
        )])?;
        let data_source_id = parse_id("data_source_id", &request.data_source_id)?;
        let account = account_of(&caller, &request.account_id)?;

        let mut conn = self.conn().await?;
        let instance = if request.instance_key.is_empty() {
            // The instance the caller's own values resolve to; the library checks that the
            // caller may read the data source.
            let resolved = self
                .peers
                .resolve(data_source_id, account, "", Some(&caller.bearer))
                .await
                .map_err(|status| library_error(status, data_source_id))?;
            if !resolved.unresolved_properties.is_empty() {
                return Err(ApiError::precondition(
                    "UNRESOLVED_PROPERTIES",
                    format!("data source {data_source_id}"),
                    format!(
                        "these properties resolve to nothing, so the request cannot be sent: {}",
                        resolved.unresolved_properties.join(", ")
                    ),
                )
                .into());
            }
            let user = if caller.is_service() || resolved.properties.is_empty() {
                ""
            } else {
                caller.user()
            };
            let instance = ResolvedInstance {
                id: InstanceId {
                    data_source_id,
                    instance_key: resolved.instance_key.clone(),
                },
                account_id: account,
                resolve_user_id: user.to_owned(),
                url: resolved.url.clone(),
                data_source_version: resolved.data_source_version,
                refresh_interval_ms: interval_ms(resolved.refresh_interval.as_ref()),
            };
            instances::upsert_resolved(&mut conn, std::slice::from_ref(&instance))
                .await
                .map_err(ApiError::from)?;
            instance.id
        } else {
            let id = InstanceId {
                data_source_id,
                instance_key: request.instance_key.clone(),
            };
            match instances::get(&mut conn, &id)
                .await
                .map_err(ApiError::from)?
            {
                Some(known) if known.account_id == account => id,
                _ => {
                    return Err(
                        ApiError::not_found("data-source instance", &request.instance_key).into(),
                    );
                }
            }
        };

        let scope = format!("{account}/{}", caller.user());
        const METHOD: &str = "RefreshNow";
        let trace_context = crate::trace::current();
        let request_id = request.request_id.clone();
        let answer = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                if let Some(answer) = idempotency::replay(conn, &scope, METHOD, &request_id).await?
                {
                    return Ok(answer);
                }
                // Jobs before the instance, the order a worker settling a job takes them
                // in: the other order deadlocks against a worker finishing this instance.
                // A job whose worker is gone is put back in line rather than returned as
                // running forever.
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
                let answer = RefreshNowResponse {
                    job: Some(convert::job(&job)),
                };
                idempotency::remember(conn, &scope, METHOD, &request_id, &answer).await?;
                Ok(answer)
            })
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(answer))
    }

    async fn get_refresh_job(
        &self,
        request: Request<GetRefreshJobRequest>,
    ) -> Result<Response<GetRefreshJobResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, &request.account_id)?;
        let mut conn = self.conn().await?;
        match jobs::get(&mut conn, id).await.map_err(ApiError::from)? {
            Some(job) if job.account_id == account => Ok(Response::new(GetRefreshJobResponse {
                job: Some(convert::job(&job)),
            })),
            _ => Err(ApiError::not_found("refresh job", id).into()),
        }
    }

    async fn get_queue_status(
        &self,
        request: Request<GetQueueStatusRequest>,
    ) -> Result<Response<GetQueueStatusResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        // Members see their account's figures; the whole queue is the operators' to see.
        let account = if caller.is_operator() && request.account_id.is_empty() {
            None
        } else {
            Some(account_of(&caller, &request.account_id)?)
        };
        let mut conn = self.conn().await?;
        let figures = jobs::figures(&mut conn, account)
            .await
            .map_err(ApiError::from)?;
        let positions = match account {
            Some(account) => jobs::positions(&mut conn, account, MAX_POSITIONS)
                .await
                .map_err(ApiError::from)?,
            None => Vec::new(),
        };
        Ok(Response::new(GetQueueStatusResponse {
            depth: figures.depth,
            deferred_count: figures.deferred,
            running_count: figures.running,
            oldest_wait: figures
                .oldest_enqueue_time
                .map(|oldest| convert::duration(figures.now - oldest)),
            positions: positions
                .iter()
                .map(|p| QueuePosition {
                    job: Some(convert::job(&p.job)),
                    position: p.position,
                })
                .collect(),
        }))
    }

    async fn get_refresh_status(
        &self,
        request: Request<GetRefreshStatusRequest>,
    ) -> Result<Response<GetRefreshStatusResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let data_source_id = parse_id("data_source_id", &request.data_source_id)?;
        let account = account_of(&caller, &request.account_id)?;
        let mut conn = self.conn().await?;
        let known = instances::of_data_source(&mut conn, account, data_source_id)
            .await
            .map_err(ApiError::from)?;
        let mut statuses = Vec::with_capacity(known.len());
        for instance in &known {
            let id = InstanceId {
                data_source_id,
                instance_key: instance.instance_key.clone(),
            };
            let job = match jobs::active_job(&mut conn, &id)
                .await
                .map_err(ApiError::from)?
            {
                Some(job) => Some(job),
                None => jobs::latest_job(&mut conn, &id)
                    .await
                    .map_err(ApiError::from)?,
            };
            statuses.push(convert::instance_status(instance, job.as_ref()));
        }
        let active_until = activity_store::active_until(&mut conn, account)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(GetRefreshStatusResponse {
            instances: statuses,
            account_active_until: active_until.map(convert::timestamp),
        }))
    }

    async fn get_cached_data(
        &self,
        request: Request<GetCachedDataRequest>,
    ) -> Result<Response<GetCachedDataResponse>, Status> {
        self.cached_data(request).await
    }

    async fn create_report_schedule(
        &self,
        request: Request<CreateReportScheduleRequest>,
    ) -> Result<Response<CreateReportScheduleResponse>, Status> {
        self.create_schedule(request).await
    }

    async fn get_report_schedule(
        &self,
        request: Request<GetReportScheduleRequest>,
    ) -> Result<Response<GetReportScheduleResponse>, Status> {
        self.get_schedule(request).await
    }

    async fn list_report_schedules(
        &self,
        request: Request<ListReportSchedulesRequest>,
    ) -> Result<Response<ListReportSchedulesResponse>, Status> {
        self.list_schedules(request).await
    }

    async fn update_report_schedule(
        &self,
        request: Request<UpdateReportScheduleRequest>,
    ) -> Result<Response<UpdateReportScheduleResponse>, Status> {
        self.update_schedule(request).await
    }

    async fn delete_report_schedule(
        &self,
        request: Request<DeleteReportScheduleRequest>,
    ) -> Result<Response<DeleteReportScheduleResponse>, Status> {
        self.delete_schedule(request).await
    }

    async fn list_report_deliveries(
        &self,
        request: Request<ListReportDeliveriesRequest>,
    ) -> Result<Response<ListReportDeliveriesResponse>, Status> {
        self.list_deliveries(request).await
    }
}
