//! CreateImportPlan, GetImportPlan, ExecuteImportPlan (I1, I2, I8).

use chrono::Utc;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request::{self, caller};
use trellis_proto::imports::v1 as pb;

use super::{ImportsApi, MAX_ASSETS, convert, parse};
use crate::app::plans::{self, NewPlan};

impl ImportsApi {
    pub(super) async fn create_import_plan(
        &self,
        request: Request<pb::CreateImportPlanRequest>,
    ) -> ApiResult<pb::CreateImportPlanResponse> {
        let caller = caller(&request)?;
        // I2: importing needs an admin signed into the destination.
        caller.require_admin()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateImportPlan", &request.request_id)?;
        let destination = request::account_of(
            &caller,
            "destination_account_id",
            &request.destination_account_id,
        )?;
        let source =
            request::id("source_account_id", &request.source_account_id).and_then(|source| {
                match source == destination {
                    true => Err(ApiError::invalid(
                        "source_account_id",
                        "must differ from the destination",
                    )),
                    false => Ok(source),
                }
            });
        let (source, selection) = parse::both(source, selection(&request.selection))?;
        let request = NewPlan {
            destination,
            source,
            selection,
        };
        let app = &self.app;
        replay::write_after(
            &app.pool,
            &key,
            async || app.make_plan(&caller, request).await,
            async |conn, (plan, existing)| {
                plans::keep(conn, &plan).await?;
                Ok(pb::CreateImportPlanResponse {
                    plan: Some(convert::plan(&plan, &existing, Utc::now())),
                })
            },
        )
        .await
    }

    pub(super) async fn get_import_plan(
        &self,
        request: Request<pb::GetImportPlanRequest>,
    ) -> ApiResult<pb::GetImportPlanResponse> {
        let caller = caller(&request)?;
        let id = request::id("id", &request.get_ref().id)?;
        let (plan, existing) = self.app.get_plan(&caller, id).await?;
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
        let key = RequestKey::new(&caller, "ExecuteImportPlan", &request.request_id)?;
        let plan_id = request::id("plan_id", &request.plan_id)?;
        if request.etag.is_empty() {
            return Err(ApiError::invalid(
                "etag",
                "required: the etag of the plan as reviewed",
            ));
        }
        let app = &self.app;
        let started = replay::write_after(
            &app.pool,
            &key,
            async || app.executable_plan(&caller, plan_id, &request.etag).await,
            async |conn, plan| {
                Ok(convert::started(
                    &plans::start(conn, &plan, caller.user()).await?,
                ))
            },
        )
        .await?;
        let import = app.finish_import(convert::started_id(&started)?).await?;
        Ok(pb::ExecuteImportPlanResponse {
            import: Some(convert::import(&import)),
        })
    }
}

/// The selected assets, each once: at least one, at most [`MAX_ASSETS`].
fn selection(selection: &[pb::AssetRef]) -> ApiResult<Vec<crate::domain::asset::AssetRef>> {
    let size = if selection.is_empty() {
        Err(ApiError::invalid("selection", "select at least one asset"))
    } else if selection.len() > MAX_ASSETS {
        Err(ApiError::invalid(
            "selection",
            format!("at most {MAX_ASSETS} assets"),
        ))
    } else {
        Ok(())
    };
    let assets = parse::all(
        selection
            .iter()
            .enumerate()
            .map(|(i, asset)| parse::asset_ref(&format!("selection[{i}]"), Some(asset))),
    );
    let ((), mut assets) = parse::both(size, assets)?;
    let mut seen = std::collections::BTreeSet::new();
    assets.retain(|asset| seen.insert(*asset));
    Ok(assets)
}
