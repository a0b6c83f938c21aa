//! What every service does before it has behaviour of its own: refuse calls without a valid
//! token (and service tokens meant for another service), refuse to start on missing or
//! published secrets outside development mode, answer health checks that follow the
//! database, describe itself through reflection, apply its migrations once, and continue a
//! caller's trace.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod access;
mod introspection;
mod migrations;
mod requests;
mod startup;

use std::time::Duration;

use tonic::codegen::http::uri::PathAndQuery;
use trellis_e2e::cluster::schema;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_testkit::{InProcess, RunningService};

const WAIT: Duration = Duration::from_secs(20);

/// The gRPC name of `kind`'s service.
fn grpc_service(kind: ServiceKind) -> &'static str {
    trellis_e2e::rpcs::service_name(kind)
}

/// `kind` in-process on a database of its own, with its default settings.
async fn start(kind: ServiceKind) -> RunningService {
    macro_rules! start {
        ($service:ident) => {
            InProcess::new(kind, Default::default(), $service::build)
                .start(&schema(kind))
                .await
        };
    }
    match kind {
        ServiceKind::Library => start!(trellis_library),
        ServiceKind::Imports => start!(trellis_imports),
        ServiceKind::Tokens => start!(trellis_tokens),
        ServiceKind::Refresh => start!(trellis_refresh),
    }
}

/// Calls `method` of the service with an empty message and the given bearer token.
async fn call(channel: TracedChannel, method: &str, bearer: Option<&str>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel connects");
    let request = match bearer {
        Some(token) => authorized((), token),
        None => tonic::Request::new(()),
    };
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = PathAndQuery::try_from(method).expect("a method path");
    match grpc.unary(request, path, codec).await {
        Ok(_) => tonic::Status::ok("answered"),
        Err(status) => status,
    }
}
