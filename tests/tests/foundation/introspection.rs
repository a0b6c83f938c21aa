//! What a service says about itself without a token: health that follows its database, and
//! reflection that lists and describes what it serves.

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use trellis_platform::client::TracedChannel;
use trellis_platform::config::ServiceKind;
use trellis_testkit::{RunningService, eventually};

use crate::{WAIT, grpc_service, start};

#[tokio::test(flavor = "multi_thread")]
async fn health_follows_the_database_and_needs_no_token() {
    let service = start(ServiceKind::Library).await;
    let mut health = HealthClient::new(service.server.channel());
    for name in ["", grpc_service(ServiceKind::Library)] {
        eventually("the service to report SERVING", WAIT, || {
            let mut health = health.clone();
            async move {
                let status = health
                    .check(HealthCheckRequest {
                        service: name.to_owned(),
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .status;
                (status == ServingStatus::Serving as i32).then_some(())
            }
        })
        .await;
    }

    // Take the database away: readiness follows it.
    let RunningService { server, database } = service;
    drop(database);
    eventually("the service to report NOT_SERVING", WAIT, || {
        let mut health = health.clone();
        async move {
            let status = health
                .check(HealthCheckRequest::default())
                .await
                .ok()?
                .into_inner()
                .status;
            (status == ServingStatus::NotServing as i32).then_some(())
        }
    })
    .await;
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("an unknown service has no status");
    assert_eq!(unknown.code(), Code::NotFound);
    drop(server);
}

async fn reflected_services(channel: TracedChannel) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers without a token")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a reflection response")
        .expect("one message");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_each_service_with_health_and_describes_it() {
    for kind in ServiceKind::ALL {
        let service = start(kind).await;
        let names = reflected_services(service.server.channel()).await;
        for expected in [
            grpc_service(kind),
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                names.iter().any(|name| name == expected),
                "{kind:?} lists {expected}: {names:?}"
            );
        }
        for other in ServiceKind::ALL.into_iter().filter(|other| *other != kind) {
            assert!(
                !names.iter().any(|name| name == grpc_service(other)),
                "{kind:?} does not list {other:?}, which it does not serve: {names:?}"
            );
        }

        // The service resolves to its file, so grpcurl can describe it, and so do the
        // `google.rpc` error details, so grpcurl can show what a failure says.
        for symbol in [
            grpc_service(kind),
            "google.rpc.BadRequest",
            "google.rpc.PreconditionFailure",
            "google.rpc.ErrorInfo",
            "google.rpc.Status",
        ] {
            let mut client = ServerReflectionClient::new(service.server.channel());
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
            };
            let response = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .expect("reflection answers")
                .into_inner()
                .message()
                .await
                .expect("a response")
                .expect("one message");
            assert!(
                matches!(
                    response.message_response,
                    Some(MessageResponse::FileDescriptorResponse(ref files)) if !files.file_descriptor_proto.is_empty()
                ),
                "{kind:?} describes {symbol}: {:?}",
                response.message_response
            );
        }
    }
}
