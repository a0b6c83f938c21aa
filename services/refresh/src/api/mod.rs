//! gRPC handlers of `trellis.refresh.v1.RefreshService`: authorize, check the request into
//! a typed one, call the use case (`crate::app`), convert its answer. The report schedule
//! methods (F7) are in `reports`, GetCachedData in `cached`.

mod cached;
pub mod convert;
pub mod report_wire;
mod reports;

use std::sync::Arc;

use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::replay::RequestKey;
use trellis_platform::request as fields;
use trellis_platform::validate;
use trellis_proto::refresh::v1::refresh_service_server::RefreshService;
use trellis_proto::refresh::v1::*;

use crate::app::{activity, refresh};
use crate::peers::Peers;
use crate::settings::Settings;

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

    /// The answer already given to this request id, if any: a retry of a write that checks
    /// with the library first gets it without asking the library again.
    async fn replayed<R: prost::Message + Default>(
        &self,
        key: &RequestKey<'_>,
    ) -> ApiResult<Option<R>> {
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        key.replay(&mut conn).await
    }
}

/// The caller and the message of a request.
fn open<T>(request: Request<T>) -> ApiResult<(Caller, T)> {
    let caller = fields::caller(&request)?;
    Ok((caller, request.into_inner()))
}

/// [`open`] for a call that changes something, which only editors, admins and services
/// may make.
fn open_writing<T>(request: Request<T>) -> ApiResult<(Caller, T)> {
    let (caller, message) = open(request)?;
    caller.require_writer()?;
    Ok((caller, message))
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

#[tonic::async_trait]
impl RefreshService for RefreshApi {
    async fn record_activity(
        &self,
        request: Request<RecordActivityRequest>,
    ) -> Result<Response<RecordActivityResponse>, Status> {
        let (caller, request) = open(request)?;
        if caller.is_service() {
            return Err(ApiError::PermissionDenied(
                "activity needs a user token: the activity of a service is not activity".into(),
            )
            .into());
        }
        let kind = match ActivityKind::try_from(request.kind) {
            Ok(ActivityKind::Login) => "login",
            Ok(ActivityKind::DashboardView) => "dashboard_view",
            Ok(ActivityKind::KlipEditor) => "klip_editor",
            Ok(ActivityKind::Library) => "library",
            _ => return Err(ApiError::invalid("kind", "must be a known activity kind").into()),
        };
        let policy = activity::ActivityPolicy {
            window: self.settings.activity_window,
            throttle: self.settings.activity_throttle,
        };
        let checked = activity::Activity {
            // F4: only the account the user is signed into becomes active.
            account_id: caller.account()?,
            user: caller.user(),
            kind,
            key: RequestKey::new(&caller, "RecordActivity", &request.request_id)?,
        };
        let answer = activity::record(&self.pool, &self.peers, policy, checked).await?;
        Ok(Response::new(answer))
    }

    async fn refresh_now(
        &self,
        request: Request<RefreshNowRequest>,
    ) -> Result<Response<RefreshNowResponse>, Status> {
        let (caller, request) = open_writing(request)?;
        check_text(&[(
            "instance_key",
            &request.instance_key,
            MAX_INSTANCE_KEY_CHARS,
        )])?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let checked = refresh::RefreshNow {
            data_source_id: fields::id("data_source_id", &request.data_source_id)?,
            account,
            instance_key: &request.instance_key,
            key: RequestKey::in_account(&caller, account, "RefreshNow", &request.request_id)?,
        };
        let answer = refresh::refresh_now(&self.pool, &self.peers, &caller, checked).await?;
        Ok(Response::new(answer))
    }

    async fn get_refresh_job(
        &self,
        request: Request<GetRefreshJobRequest>,
    ) -> Result<Response<GetRefreshJobResponse>, Status> {
        let (caller, request) = open(request)?;
        let id = fields::id("id", &request.id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let job = refresh::job(&self.pool, account, id).await?;
        Ok(Response::new(GetRefreshJobResponse {
            job: Some(convert::job(&job)),
        }))
    }

    async fn get_queue_status(
        &self,
        request: Request<GetQueueStatusRequest>,
    ) -> Result<Response<GetQueueStatusResponse>, Status> {
        let (caller, request) = open(request)?;
        // Members see their account's figures; the whole queue is the operators' to see.
        let account = if caller.is_operator() && request.account_id.is_empty() {
            None
        } else {
            Some(fields::account_of(
                &caller,
                "account_id",
                &request.account_id,
            )?)
        };
        let (figures, positions) = refresh::queue_status(&self.pool, account).await?;
        Ok(Response::new(convert::queue_status(&figures, &positions)))
    }

    async fn get_refresh_status(
        &self,
        request: Request<GetRefreshStatusRequest>,
    ) -> Result<Response<GetRefreshStatusResponse>, Status> {
        let (caller, request) = open(request)?;
        let data_source_id = fields::id("data_source_id", &request.data_source_id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let status = refresh::refresh_status(&self.pool, account, data_source_id).await?;
        Ok(Response::new(GetRefreshStatusResponse {
            instances: status
                .instances
                .iter()
                .map(|(instance, job)| convert::instance_status(instance, job.as_ref()))
                .collect(),
            account_active_until: status.account_active_until.map(convert::timestamp),
            metrics: status.metrics.as_ref().map(convert::fetch_metrics),
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
