//! gRPC handlers of `trellis.imports.v1.ImportService`: authorize the caller, validate the
//! request, call the use cases, answer. Each group of methods has its module; the trait
//! implementation below only routes.
//!
//! Authorization (I2, DESIGN.md section 3): importing needs an admin signed into the
//! destination; updating and deleting instances an admin of the master's account; reading
//! needs membership of one of the accounts involved. Service tokens may do all of it and
//! must name the accounts. Something of another tenant is NOT_FOUND, as if it did not exist.

mod convert;
mod imports;
mod instances;
mod plans;

use std::sync::Arc;

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};
use trellis_platform::auth::{self, Caller};
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_proto::imports::v1::import_service_server::ImportService;
use trellis_proto::imports::v1::*;
use uuid::Uuid;

use crate::Settings;
use crate::domain::asset::{AssetKind, AssetRef};
use crate::peers::Peers;
use crate::saga::Saga;

pub struct ImportsApi {
    pub pool: DbPool,
    pub peers: Peers,
    pub saga: Arc<Saga>,
    pub settings: Settings,
}

impl ImportsApi {
    async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await.map_err(StoreError::from)?)
    }
}

/// Most assets one call may name.
const MAX_ASSETS: usize = 1000;

/// The verified caller of a request.
fn caller<T>(request: &Request<T>) -> ApiResult<Caller> {
    auth::caller(request).map_err(|status| ApiError::Unauthenticated(status.message().to_owned()))
}

/// Request ids are remembered per caller: the same id from another caller is another call.
fn idempotency_scope(caller: &Caller) -> String {
    format!("{}\u{1f}{}", caller.claims.acct, caller.claims.sub)
}

/// A UUID field of a request.
fn parse_id(field: &str, value: &str) -> ApiResult<Uuid> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

/// The account a request acts in: empty means the caller's signed-in account; another
/// account than the caller's is refused, except for service callers, which must name one.
fn account_of(caller: &Caller, field: &str, requested: &str) -> ApiResult<Uuid> {
    if caller.is_service() {
        if requested.is_empty() {
            return Err(ApiError::invalid(
                field,
                "required with a service token (it is signed into no account)",
            ));
        }
        return parse_id(field, requested);
    }
    let own = caller.account()?;
    if requested.is_empty() {
        return Ok(own);
    }
    if parse_id(field, requested)? != own {
        return Err(ApiError::PermissionDenied(
            "the caller is not signed into that account".into(),
        ));
    }
    Ok(own)
}

/// True when the caller may see what concerns `account`.
fn member_of(caller: &Caller, account: Uuid) -> bool {
    caller.is_service() || caller.account().is_ok_and(|own| own == account)
}

/// An asset reference of a request.
fn asset_ref(
    violations: &mut Violations,
    field: &str,
    asset: Option<&WireAssetRef>,
) -> Option<AssetRef> {
    let Some(asset) = asset else {
        violations.add(field, "required");
        return None;
    };
    let kind = AssetKind::from_proto(asset.kind);
    if kind.is_none() {
        violations.add(
            format!("{field}.kind"),
            "must be a dashboard, a Klip or a data source",
        );
    }
    let id = Uuid::parse_str(&asset.id).ok();
    if id.is_none() {
        violations.add(
            format!("{field}.id"),
            if asset.id.is_empty() {
                "required"
            } else {
                "must be a UUID"
            },
        );
    }
    Some(AssetRef::new(kind?, id?))
}

/// The wire's `AssetRef`, named apart from the domain's.
type WireAssetRef = trellis_proto::imports::v1::AssetRef;

fn respond<T>(result: ApiResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl ImportService for ImportsApi {
    async fn create_import_plan(
        &self,
        request: Request<CreateImportPlanRequest>,
    ) -> Result<Response<CreateImportPlanResponse>, Status> {
        respond(self.create_import_plan(request).await)
    }

    async fn get_import_plan(
        &self,
        request: Request<GetImportPlanRequest>,
    ) -> Result<Response<GetImportPlanResponse>, Status> {
        respond(self.get_import_plan(request).await)
    }

    async fn execute_import_plan(
        &self,
        request: Request<ExecuteImportPlanRequest>,
    ) -> Result<Response<ExecuteImportPlanResponse>, Status> {
        respond(self.execute_import_plan(request).await)
    }

    async fn get_import(
        &self,
        request: Request<GetImportRequest>,
    ) -> Result<Response<GetImportResponse>, Status> {
        respond(self.get_import(request).await)
    }

    async fn list_imports(
        &self,
        request: Request<ListImportsRequest>,
    ) -> Result<Response<ListImportsResponse>, Status> {
        respond(self.list_imports(request).await)
    }

    async fn list_instances(
        &self,
        request: Request<ListInstancesRequest>,
    ) -> Result<Response<ListInstancesResponse>, Status> {
        respond(self.list_instances(request).await)
    }

    async fn get_instance(
        &self,
        request: Request<GetInstanceRequest>,
    ) -> Result<Response<GetInstanceResponse>, Status> {
        respond(self.get_instance(request).await)
    }

    async fn update_instances(
        &self,
        request: Request<UpdateInstancesRequest>,
    ) -> Result<Response<BoxStream<UpdateInstancesResponse>>, Status> {
        respond(self.update_instances(request).await)
    }

    async fn reimport_instance(
        &self,
        request: Request<ReimportInstanceRequest>,
    ) -> Result<Response<ReimportInstanceResponse>, Status> {
        respond(self.reimport_instance(request).await)
    }

    async fn delete_instances(
        &self,
        request: Request<DeleteInstancesRequest>,
    ) -> Result<Response<DeleteInstancesResponse>, Status> {
        respond(self.delete_instances(request).await)
    }
}
