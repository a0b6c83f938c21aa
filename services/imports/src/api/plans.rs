//! CreateImportPlan, GetImportPlan, ExecuteImportPlan (I1, I2, I8).

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use tonic_types::PreconditionViolation;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::idempotency;
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::{
    ImportsApi, MAX_ASSETS, account_of, asset_ref, caller, convert, idempotency_scope, member_of,
    parse_id,
};
use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::spec::ImportProgress;
use crate::planning;
use crate::reimport::FIRST_ATTEMPT_GRACE;
use crate::store::plans::Plan;
use crate::store::{TxError, imports, plans};

const CREATE: &str = "CreateImportPlan";
const EXECUTE: &str = "ExecuteImportPlan";

impl ImportsApi {
    pub(super) async fn create_import_plan(
        &self,
        request: Request<pb::CreateImportPlanRequest>,
    ) -> ApiResult<pb::CreateImportPlanResponse> {
        let caller = caller(&request)?;
        // I2: importing needs an admin signed into the destination.
        caller.require_admin()?;
        let request = request.into_inner();
        idempotency::validate(&request.request_id)?;
        let destination = account_of(
            &caller,
            "destination_account_id",
            &request.destination_account_id,
        )?;
        let mut violations = Violations::new();
        let source = match parse_id("source_account_id", &request.source_account_id) {
            Ok(source) if source == destination => {
                violations.add("source_account_id", "must differ from the destination");
                None
            }
            Ok(source) => Some(source),
            Err(ApiError::InvalidArgument(v)) => {
                for v in v {
                    violations.add(v.field, v.description);
                }
                None
            }
            Err(other) => return Err(other),
        };
        if request.selection.is_empty() {
            violations.add("selection", "select at least one asset");
        }
        if request.selection.len() > MAX_ASSETS {
            violations.add("selection", format!("at most {MAX_ASSETS} assets"));
        }
        let mut selection = Vec::with_capacity(request.selection.len());
        for (i, asset) in request.selection.iter().enumerate() {
            if let Some(asset) = asset_ref(&mut violations, &format!("selection[{i}]"), Some(asset))
                && !selection.contains(&asset)
            {
                selection.push(asset);
            }
        }
        violations.into_result()?;
        let source = source.expect("checked above");
        let scope = idempotency_scope(&caller);

        let mut conn = self.conn().await?;
        if let Some(done) =
            idempotency::replay(&mut conn, &scope, CREATE, &request.request_id).await?
        {
            return Ok(done);
        }
        drop(conn);
        planning::check_importer(&self.peers, &caller, source).await?;
        let expire_time =
            Utc::now() + chrono::Duration::from_std(self.settings.plan_ttl()).unwrap_or_default();
        let plan = planning::make(
            &self.peers,
            &self.pool,
            source,
            destination,
            selection,
            caller.user(),
            expire_time,
        )
        .await?;
        let existing = planning::existing_instances(&self.pool, &plan).await?;
        let response = pb::CreateImportPlanResponse {
            plan: Some(convert::plan(&plan, &existing, Utc::now())),
        };
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(done) =
                    idempotency::replay(conn, &scope, CREATE, &request.request_id).await?
                {
                    return Ok(done);
                }
                plans::insert(conn, &plan).await?;
                idempotency::remember(conn, &scope, CREATE, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    /// The plan, if the caller may see it: members of its destination.
    async fn visible_plan(
        &self,
        caller: &trellis_platform::auth::Caller,
        id: Uuid,
    ) -> ApiResult<Plan> {
        let mut conn = self.conn().await?;
        plans::get(&mut conn, id)
            .await?
            .filter(|plan| member_of(caller, plan.destination_account_id))
            .ok_or_else(|| ApiError::not_found("import plan", id))
    }

    pub(super) async fn get_import_plan(
        &self,
        request: Request<pb::GetImportPlanRequest>,
    ) -> ApiResult<pb::GetImportPlanResponse> {
        let caller = caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let plan = self.visible_plan(&caller, id).await?;
        let existing = planning::existing_instances(&self.pool, &plan).await?;
        Ok(pb::GetImportPlanResponse {
            plan: Some(convert::plan(&plan, &existing, Utc::now())),
        })
    }

    pub(super) async fn execute_import_plan(
        &self,
        request: Request<pb::ExecuteImportPlanRequest>,
    ) -> ApiResult<pb::ExecuteImportPlanResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        idempotency::validate(&request.request_id)?;
        let plan_id = parse_id("plan_id", &request.plan_id)?;
        if request.etag.is_empty() {
            return Err(ApiError::invalid(
                "etag",
                "required: the etag of the plan as reviewed",
            ));
        }
        let scope = idempotency_scope(&caller);

        // A retry: the import made the first time, finished if it is not yet.
        let mut conn = self.conn().await?;
        let replayed: Option<pb::ExecuteImportPlanResponse> =
            idempotency::replay(&mut conn, &scope, EXECUTE, &request.request_id).await?;
        drop(conn);
        if let Some(done) = replayed {
            return self.finish_import(done.import.unwrap_or_default().id).await;
        }

        let plan = self.visible_plan(&caller, plan_id).await?;
        // I2: an admin signed into the destination (or a service).
        if !caller.is_service() && caller.account()? != plan.destination_account_id {
            return Err(ApiError::not_found("import plan", plan_id));
        }
        check_executable(&plan, &request.etag)?;
        // I1 and I15 again: the family and the memberships may have changed since planning.
        planning::check_importer(&self.peers, &caller, plan.source_account_id).await?;
        planning::check_family(
            &self.peers,
            plan.source_account_id,
            plan.destination_account_id,
        )
        .await
        .map_err(|error| match error {
            ApiError::PermissionDenied(message) => {
                ApiError::FailedPrecondition(vec![PreconditionViolation::new(
                    "FAMILY_FORBIDDEN",
                    format!("import_plans/{plan_id}"),
                    message,
                )])
            }
            other => other,
        })?;
        // I8: exactly what was planned, or nothing.
        let (now, _) = planning::closure(&self.peers, plan.source_account_id, &plan.selection)
            .await
            .map_err(|error| match error {
                ApiError::NotFound { resource, id } => ApiError::precondition(
                    "SOURCE_CHANGED",
                    plan.selection
                        .iter()
                        .find(|a| a.id.to_string() == id)
                        .map(|a| a.subject())
                        .unwrap_or_else(|| format!("{resource} {id}")),
                    "a selected asset was deleted since the plan was made",
                ),
                other => other,
            })?;
        if now.etag(plan.source_account_id, plan.destination_account_id) != plan.etag {
            let mut violations = plan.spec.differences(&now);
            if violations.is_empty() {
                violations.push(PreconditionViolation::new(
                    "SOURCE_CHANGED",
                    format!("import_plans/{plan_id}"),
                    "the source changed since the plan was made",
                ));
            }
            return Err(ApiError::FailedPrecondition(violations));
        }

        let created = Utc::now();
        let import = Import {
            id: Uuid::now_v7(),
            kind: ImportKind::Plan,
            plan_id: Some(plan.id),
            destination_account_id: plan.destination_account_id,
            source_account_id: plan.source_account_id,
            state: ImportState::Pending,
            spec: plan.spec.clone(),
            progress: ImportProgress::default(),
            error: String::new(),
            attempts: 0,
            next_attempt_time: created + FIRST_ATTEMPT_GRACE,
            creator_user_id: caller.user().to_owned(),
            create_time: created,
            update_time: created,
            end_time: None,
        };
        let mut conn = self.conn().await?;
        let import_id = conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(done) = idempotency::replay::<pb::ExecuteImportPlanResponse>(
                    conn,
                    &scope,
                    EXECUTE,
                    &request.request_id,
                )
                .await?
                {
                    return Ok(done.import.unwrap_or_default().id);
                }
                let locked = plans::get_for_update(conn, plan_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("import plan", plan_id))?;
                if let Some(executed) = locked.import_id {
                    return Err(executed_already(plan_id, executed).into());
                }
                imports::insert(conn, &import).await?;
                plans::set_import(conn, plan_id, import.id).await?;
                let answer = pb::ExecuteImportPlanResponse {
                    import: Some(pb::Import {
                        id: import.id.to_string(),
                        ..Default::default()
                    }),
                };
                idempotency::remember(conn, &scope, EXECUTE, &request.request_id, &answer).await?;
                Ok(import.id.to_string())
            })
            .await?;
        // The saga takes connections of its own: this one is not held while it runs.
        drop(conn);
        self.finish_import(import_id).await
    }

    /// Runs the import's saga as far as it goes now and answers with the import.
    pub(super) async fn finish_import(
        &self,
        id: String,
    ) -> ApiResult<pb::ExecuteImportPlanResponse> {
        let id = Uuid::parse_str(&id).map_err(ApiError::internal)?;
        let import = self.saga.run(id, self.settings.execute_wait()).await?;
        Ok(pb::ExecuteImportPlanResponse {
            import: Some(convert::import(&import)),
        })
    }
}

fn executed_already(plan: Uuid, import: Uuid) -> ApiError {
    ApiError::precondition(
        "PLAN_EXECUTED",
        format!("import_plans/{plan}"),
        format!(
            "the plan was executed already, as import {import}, under another request id; make a new plan to import again"
        ),
    )
}

/// The checks that need no other service: not executed, not expired, the etag reviewed, no
/// blocking warning.
fn check_executable(plan: &Plan, etag: &str) -> ApiResult<()> {
    if let Some(import) = plan.import_id {
        return Err(executed_already(plan.id, import));
    }
    if Utc::now() > plan.expire_time {
        return Err(ApiError::precondition(
            "PLAN_EXPIRED",
            format!("import_plans/{}", plan.id),
            "the plan expired; make a new one",
        ));
    }
    if etag != plan.etag {
        return Err(ApiError::Aborted(format!(
            "the etag {etag:?} is not the plan's ({:?}); review the plan again",
            plan.etag
        )));
    }
    let blocking: Vec<PreconditionViolation> = plan
        .warnings
        .iter()
        .filter(|w| w.blocking)
        .map(|w| {
            PreconditionViolation::new("BLOCKING_WARNING", w.subject_id.clone(), w.message.clone())
        })
        .collect();
    if !blocking.is_empty() {
        return Err(ApiError::FailedPrecondition(blocking));
    }
    Ok(())
}
