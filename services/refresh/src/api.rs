//! gRPC handlers of `trellis.refresh.v1.RefreshService`. Until a method is implemented it answers
//! UNIMPLEMENTED (the generated default).

use trellis_platform::db::DbPool;
use trellis_platform::service::ServiceContext;
use trellis_proto::refresh::v1::refresh_service_server::RefreshService;

use crate::Settings;

pub struct RefreshApi {
    #[expect(
        dead_code,
        reason = "the handlers that use it come with the service's behaviour"
    )]
    pool: DbPool,
}

impl RefreshApi {
    pub fn new(context: &ServiceContext<Settings>) -> Self {
        Self {
            pool: context.pool.clone(),
        }
    }
}

#[tonic::async_trait]
impl RefreshService for RefreshApi {}
