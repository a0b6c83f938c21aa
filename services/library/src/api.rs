//! gRPC handlers of `trellis.library.v1.LibraryService`. Until a method is implemented it answers
//! UNIMPLEMENTED (the generated default).

use trellis_platform::db::DbPool;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1::library_service_server::LibraryService;

use crate::Settings;

pub struct LibraryApi {
    #[expect(
        dead_code,
        reason = "the handlers that use it come with the service's behaviour"
    )]
    pool: DbPool,
}

impl LibraryApi {
    pub fn new(context: &ServiceContext<Settings>) -> Self {
        Self {
            pool: context.pool.clone(),
        }
    }
}

#[tonic::async_trait]
impl LibraryService for LibraryApi {}
