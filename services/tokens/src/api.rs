//! gRPC handlers of `trellis.tokens.v1.TokenService`. Until a method is implemented it answers
//! UNIMPLEMENTED (the generated default).

use trellis_platform::db::DbPool;
use trellis_platform::service::ServiceContext;
use trellis_proto::tokens::v1::token_service_server::TokenService;

use crate::Settings;

pub struct TokensApi {
    #[expect(
        dead_code,
        reason = "the handlers that use it come with the service's behaviour"
    )]
    pool: DbPool,
}

impl TokensApi {
    pub fn new(context: &ServiceContext<Settings>) -> Self {
        Self {
            pool: context.pool.clone(),
        }
    }
}

#[tonic::async_trait]
impl TokenService for TokensApi {}
