//! gRPC handlers of `trellis.imports.v1.ImportService`. Until a method is implemented it answers
//! UNIMPLEMENTED (the generated default).

use trellis_platform::db::DbPool;
use trellis_platform::service::ServiceContext;
use trellis_proto::imports::v1::import_service_server::ImportService;

use crate::Settings;

pub struct ImportsApi {
    #[expect(
        dead_code,
        reason = "the handlers that use it come with the service's behaviour"
    )]
    pool: DbPool,
}

impl ImportsApi {
    pub fn new(context: &ServiceContext<Settings>) -> Self {
        Self {
            pool: context.pool.clone(),
        }
    }
}

#[tonic::async_trait]
impl ImportService for ImportsApi {}
