//! CreateImportPlan, GetImportPlan, ExecuteImportPlan (I1, I2, I8): a plan is made and
//! kept; executing it records an import and runs its saga. The handlers remember the
//! answers under the request ids: making a plan and checking one call other services, so
//! that work runs before the transaction that keeps the plan or records the import.

use std::collections::BTreeMap;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use tonic_types::PreconditionViolation;
use trellis_platform::auth::Caller;
use trellis_platform::db;
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::{App, member_of, planning};
use crate::domain::asset::AssetRef;
use crate::domain::import::{Import, ImportKind};
use crate::domain::plan::Plan;
use crate::store::{imports, plans};

/// A CreateImportPlan request, read.
pub struct NewPlan {
    pub destination: Uuid,
    pub source: Uuid,
    /// Each asset once.
    pub selection: Vec<AssetRef>,
}

/// The instances the destination has already, by master.
pub type Existing = BTreeMap<AssetRef, Vec<Uuid>>;

/// Keeps a plan made by [`App::make_plan`].
pub async fn keep(conn: &mut AsyncPgConnection, plan: &Plan) -> ApiResult<()> {
    Ok(plans::insert(conn, plan).await?)
}

/// Records the import of the plan reviewed by [`App::executable_plan`], once: the plan is
/// locked and marked executed with it.
pub async fn start(conn: &mut AsyncPgConnection, plan: &Plan, creator: &str) -> ApiResult<Import> {
    let locked = plans::get_for_update(conn, plan.id)
        .await?
        .ok_or_else(|| ApiError::not_found("import plan", plan.id))?;
    if let Some(executed) = locked.import_id {
        return Err(executed_already(plan.id, executed));
    }
    let import = new_import(plan, creator);
    imports::insert(conn, &import).await?;
    plans::set_import(conn, plan.id, import.id).await?;
    Ok(import)
}

impl App {
    /// A new plan, not kept yet ([`keep`]), and the instances its destination has already.
    pub async fn make_plan(
        &self,
        caller: &Caller,
        request: NewPlan,
    ) -> ApiResult<(Plan, Existing)> {
        planning::check_importer(&self.peers, caller, request.source).await?;
        let expire_time =
            Utc::now() + chrono::Duration::from_std(self.settings.plan_ttl()).unwrap_or_default();
        let plan = planning::make(
            &self.peers,
            &self.pool,
            request.source,
            request.destination,
            request.selection,
            caller.user(),
            expire_time,
        )
        .await?;
        let existing = planning::existing_instances(&self.pool, &plan).await?;
        Ok((plan, existing))
    }

    /// The plan, if the caller may see it: members of its destination.
    async fn visible_plan(&self, caller: &Caller, id: Uuid) -> ApiResult<Plan> {
        let mut conn = db::connect(&self.pool).await?;
        plans::get(&mut conn, id)
            .await?
            .filter(|plan| member_of(caller, plan.destination_account_id))
            .ok_or_else(|| ApiError::not_found("import plan", id))
    }

    /// The plan and the instances of its masters that its destination has now.
    pub async fn get_plan(&self, caller: &Caller, id: Uuid) -> ApiResult<(Plan, Existing)> {
        let plan = self.visible_plan(caller, id).await?;
        let existing = planning::existing_instances(&self.pool, &plan).await?;
        Ok((plan, existing))
    }

    /// The plan reviewed with `etag`, when the caller may execute it now and it is still
    /// exactly as planned; [`start`] then records its import.
    pub async fn executable_plan(
        &self,
        caller: &Caller,
        plan_id: Uuid,
        etag: &str,
    ) -> ApiResult<Plan> {
        let plan = self.visible_plan(caller, plan_id).await?;
        // I2: an admin signed into the destination (or a service).
        if !caller.is_service() && caller.account()? != plan.destination_account_id {
            return Err(ApiError::not_found("import plan", plan_id));
        }
        check_executable(&plan, etag)?;
        self.check_unchanged(caller, &plan).await?;
        Ok(plan)
    }

    /// I1, I15 and I8 again before executing: the family and the memberships may have
    /// changed since planning, and the source must be exactly as planned.
    async fn check_unchanged(&self, caller: &Caller, plan: &Plan) -> ApiResult<()> {
        let subject = format!("import_plans/{}", plan.id);
        planning::check_importer(&self.peers, caller, plan.source_account_id).await?;
        planning::check_family(
            &self.peers,
            plan.source_account_id,
            plan.destination_account_id,
        )
        .await
        .map_err(|error| match error {
            ApiError::PermissionDenied(message) => {
                ApiError::precondition("FAMILY_FORBIDDEN", subject.clone(), message)
            }
            other => other,
        })?;
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
        if now.etag(plan.source_account_id, plan.destination_account_id) == plan.etag {
            return Ok(());
        }
        let mut violations: Vec<PreconditionViolation> = plan
            .spec
            .differences(&now)
            .into_iter()
            .map(|d| PreconditionViolation::new("SOURCE_CHANGED", d.subject, d.description))
            .collect();
        if violations.is_empty() {
            violations.push(PreconditionViolation::new(
                "SOURCE_CHANGED",
                subject,
                "the source changed since the plan was made",
            ));
        }
        Err(ApiError::FailedPrecondition(violations))
    }

    /// Runs the saga of a recorded import as far as it goes now, and answers with the
    /// import.
    pub async fn finish_import(&self, id: Uuid) -> ApiResult<Import> {
        self.saga.run(id, self.settings.execute_wait()).await
    }
}

fn new_import(plan: &Plan, creator: &str) -> Import {
    let accounts = (plan.source_account_id, plan.destination_account_id);
    Import::pending(
        ImportKind::Plan,
        Some(plan.id),
        accounts,
        plan.spec.clone(),
        creator,
    )
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
