//! ListInstances, GetInstance (I11), UpdateInstances (I9, I10), ReimportInstance (I12),
//! DeleteInstances.

use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::codegen::BoxStream;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::pagination::PageRequest;
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request::{self, caller};
use trellis_proto::imports::v1 as pb;

use super::{ImportsApi, convert, parse};
use crate::app::instances::InstanceUpdate;
use crate::app::reimport;
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::ImportKind;

impl ImportsApi {
    pub(super) async fn list_instances(
        &self,
        request: Request<pb::ListInstancesRequest>,
    ) -> ApiResult<pb::ListInstancesResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let (master, account) = parse::both(
            parse::asset_ref("master", request.master.as_ref()),
            request::optional_id("account_id", &request.account_id),
        )?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let (observed, next_page_token) = self
            .app
            .list_instances(
                &caller,
                master,
                account,
                page.after_key()?,
                page.fetch_limit(),
                |found| page.finish_keyed(found, |l| (l.account_id, l.instance.id)),
            )
            .await?;
        Ok(pb::ListInstancesResponse {
            instances: observed.iter().map(convert::instance).collect(),
            next_page_token,
        })
    }

    pub(super) async fn get_instance(
        &self,
        request: Request<pb::GetInstanceRequest>,
    ) -> ApiResult<pb::GetInstanceResponse> {
        let caller = caller(&request)?;
        let instance = parse::asset_ref("instance", request.get_ref().instance.as_ref())?;
        let observed = self.app.get_instance(&caller, instance).await?;
        Ok(pb::GetInstanceResponse {
            instance: observed.as_ref().map(convert::instance),
        })
    }

    pub(super) async fn update_instances(
        &self,
        request: Request<pb::UpdateInstancesRequest>,
    ) -> ApiResult<BoxStream<pb::UpdateInstancesResponse>> {
        let caller = caller(&request)?;
        // I2: an admin of the master's account.
        caller.require_admin()?;
        let request = request.into_inner();
        // Validated here; the update keeps its own record of what it did under the id.
        RequestKey::new(&caller, "UpdateInstances", &request.request_id)?;
        let (master, chosen) = parse::both(
            request::id("master_klip_id", &request.master_klip_id),
            parse::ids("instance_ids", &request.instance_ids),
        )?;
        let update = InstanceUpdate {
            request_id: request.request_id,
            master: AssetRef::new(AssetKind::Klip, master),
            chosen,
            dry_run: request.dry_run,
            push_data_sources: request.push_data_sources,
        };
        let events = self.app.update_instances(&caller, update).await?;
        Ok(Box::pin(ReceiverStream::new(events)))
    }

    pub(super) async fn reimport_instance(
        &self,
        request: Request<pb::ReimportInstanceRequest>,
    ) -> ApiResult<pb::ReimportInstanceResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "ReimportInstance", &request.request_id)?;
        let kind = match pb::ReimportMode::try_from(request.mode) {
            // In place by default: ids kept, so embeds and email schedules survive (I12).
            Ok(pb::ReimportMode::Unspecified | pb::ReimportMode::InPlace) => {
                Ok(ImportKind::ReimportInPlace)
            }
            Ok(pb::ReimportMode::NewCopy) => Ok(ImportKind::ReimportNewCopy),
            Err(_) => Err(ApiError::invalid("mode", "must be IN_PLACE or NEW_COPY")),
        };
        let (instance, kind) = parse::both(
            parse::asset_ref("instance", request.instance.as_ref()),
            kind,
        )?;
        let app = &self.app;
        let started = replay::write_after(
            &app.pool,
            &key,
            async || app.prepare_reimport(&caller, instance, kind).await,
            async |conn, import| Ok(convert::started(&reimport::start(conn, import).await?)),
        )
        .await?;
        // A retry under the same request id finishes the import made the first time.
        let import = app.finish_import(convert::started_id(&started)?).await?;
        Ok(pb::ReimportInstanceResponse {
            import: Some(convert::import(&import)),
        })
    }

    pub(super) async fn delete_instances(
        &self,
        request: Request<pb::DeleteInstancesRequest>,
    ) -> ApiResult<pb::DeleteInstancesResponse> {
        let caller = caller(&request)?;
        // I2: an admin of the master's account.
        caller.require_admin()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteInstances", &request.request_id)?;
        let named = if request.account_ids.is_empty() {
            Err(ApiError::invalid(
                "account_ids",
                "name at least one account",
            ))
        } else {
            Ok(())
        };
        let (master, ((), mut accounts)) = parse::both(
            parse::asset_ref("master", request.master.as_ref()),
            parse::both(named, parse::ids("account_ids", &request.account_ids)),
        )?;
        let mut seen = std::collections::BTreeSet::new();
        accounts.retain(|account| seen.insert(*account));
        let app = &self.app;
        replay::write_after(
            &app.pool,
            &key,
            async || {
                app.delete_instances(&caller, key.request_id(), master, &accounts)
                    .await
            },
            async |_, deleted| Ok(convert::deleted(&deleted)),
        )
        .await
    }
}
