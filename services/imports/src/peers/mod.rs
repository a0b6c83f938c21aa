//! The library and token services, called with a short-lived service token of this service
//! (DESIGN.md section 3). Handlers authorize their caller first; the calls below then act
//! for the import service itself (CloneAssets, grants and credential copies are service
//! only), as the recovery loop does.

use tonic::{Code, Status};
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::{CommonConfig, ServiceKind};
use trellis_platform::error::ApiError;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;

const PAGE: i32 = 1000;

mod library_calls;
mod token_calls;

#[derive(Clone)]
pub struct Peers {
    library: LibraryServiceClient<TracedChannel>,
    tokens: TokenServiceClient<TracedChannel>,
    /// Tokens of this service's identity (`imports`): the library and token services scope
    /// request ids by it, so a restarted replica replays its predecessor's calls.
    tokens_of_imports: ServiceTokens,
}

/// A failed call that waiting may fix: the peer is down, overloaded, timed out, or failed
/// on its side.
pub fn is_transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Internal
            | Code::Unknown
            | Code::Cancelled
    )
}

/// A failed call to `service` as this service's caller sees it: a peer that is down or
/// failing is UNAVAILABLE, never an INTERNAL of ours; the caller's own mistakes keep their
/// code.
pub fn upstream(service: &'static str) -> impl Fn(Status) -> ApiError {
    move |status| {
        if is_transient(&status) {
            tracing::warn!(service, code = ?status.code(), message = status.message(), "peer call failed");
            ApiError::Unavailable(format!("the {service} service is unavailable; retry later"))
        } else {
            ApiError::from(status)
        }
    }
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

    pub(super) fn library_call<T>(&self, message: T) -> tonic::Request<T> {
        authorized(
            message,
            &self.tokens_of_imports.bearer(ServiceKind::Library),
        )
    }

    pub(super) fn tokens_call<T>(&self, message: T) -> tonic::Request<T> {
        authorized(message, &self.tokens_of_imports.bearer(ServiceKind::Tokens))
    }
}
