//! gRPC handlers of `trellis.imports.v1.ImportService`: each checks the caller's role,
//! reads the request into typed values (`parse`), calls its use case in `crate::app` and
//! converts the answer (`convert`); a mutating one remembers its answer under the request
//! id (`trellis_platform::replay`). Each group of methods has its module; the trait
//! implementation below only routes. Who may do what is the use cases' (see `crate::app`).

pub mod convert;
mod imports;
mod instances;
mod parse;
mod plans;

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};
use trellis_platform::error::ApiResult;
use trellis_proto::imports::v1::import_service_server::ImportService;
use trellis_proto::imports::v1::*;

use crate::app::App;

pub struct ImportsApi {
    pub app: App,
}

/// Most assets one call may name.
const MAX_ASSETS: usize = 1000;

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
