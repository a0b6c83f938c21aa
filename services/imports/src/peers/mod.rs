//! The library and token services, called with a short-lived service token of this service
//! (DESIGN.md section 3). Handlers authorize their caller first; the calls below then act
//! for the import service itself (CloneAssets, grants and credential copies are service
//! only), as the recovery loop does.

use tonic::{Code, Status};
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::{CommonConfig, ServiceKind};
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;

/// Items per page of another service's List call.
const PAGE: i32 = 1000;
/// Most items read from one List call, page after page: more than any account holds.
const MAX_LISTED: usize = 100_000;

pub mod convert;
mod library_calls;
mod token_calls;

type Library = LibraryServiceClient<TracedChannel>;
type Tokens = TokenServiceClient<TracedChannel>;

#[derive(Clone)]
pub struct Peers {
    library: Library,
    tokens: Tokens,
    /// Tokens of this service's identity (`imports`): the library and token services scope
    /// request ids by it, so a restarted replica replays its predecessor's calls.
    tokens_of_imports: ServiceTokens,
}

/// `Ok(None)` for NOT_FOUND.
fn found<T>(result: Result<T, Status>) -> Result<Option<T>, Status> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}

impl Peers {
    pub fn new(common: &CommonConfig, tokens_of_imports: ServiceTokens) -> anyhow::Result<Self> {
        Ok(Self {
            library: LibraryServiceClient::new(client::channel(&common.library_url)?),
            tokens: TokenServiceClient::new(client::channel(&common.tokens_url)?),
            tokens_of_imports,
        })
    }

    /// One call to the library as this service: `call` makes the RPC on a client of its own.
    async fn ask_library<Q, A>(
        &self,
        request: Q,
        call: impl AsyncFnOnce(Library, tonic::Request<Q>) -> Result<tonic::Response<A>, Status>,
    ) -> Result<A, Status> {
        let request = authorized(
            request,
            &self.tokens_of_imports.bearer(ServiceKind::Library),
        );
        Ok(call(self.library.clone(), request).await?.into_inner())
    }

    /// A Get call to the library: the message `pick` takes from the answer, `None` for
    /// NOT_FOUND.
    async fn find_in_library<Q, A, T: Default>(
        &self,
        request: Q,
        call: impl AsyncFnOnce(Library, tonic::Request<Q>) -> Result<tonic::Response<A>, Status>,
        pick: impl FnOnce(A) -> Option<T>,
    ) -> Result<Option<T>, Status> {
        found(
            self.ask_library(request, call)
                .await
                .map(|answer| pick(answer).unwrap_or_default()),
        )
    }

    /// One call to the token service as this service, as [`Self::ask_library`].
    async fn ask_tokens<Q, A>(
        &self,
        request: Q,
        call: impl AsyncFnOnce(Tokens, tonic::Request<Q>) -> Result<tonic::Response<A>, Status>,
    ) -> Result<A, Status> {
        let request = authorized(request, &self.tokens_of_imports.bearer(ServiceKind::Tokens));
        Ok(call(self.tokens.clone(), request).await?.into_inner())
    }
}
