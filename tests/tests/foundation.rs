//! What every service does before it has behaviour of its own: refuse calls without a valid
//! token, answer health checks that follow the database, describe itself through reflection,
//! apply its migrations once, and continue a caller's trace.

use std::collections::HashMap;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::db::{self, Schema};
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::process::{ServiceProcess, binary};
use trellis_testkit::{RunningService, TestDatabase, eventually, tokens};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn schema(kind: ServiceKind) -> Schema {
    match kind {
        ServiceKind::Library => trellis_library::SCHEMA,
        ServiceKind::Imports => trellis_imports::SCHEMA,
        ServiceKind::Tokens => trellis_tokens::SCHEMA,
        ServiceKind::Refresh => trellis_refresh::SCHEMA,
    }
}

fn grpc_service(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Library => "trellis.library.v1.LibraryService",
        ServiceKind::Imports => "trellis.imports.v1.ImportService",
        ServiceKind::Tokens => "trellis.tokens.v1.TokenService",
        ServiceKind::Refresh => "trellis.refresh.v1.RefreshService",
    }
}

async fn start(kind: ServiceKind) -> RunningService {
    let schema = schema(kind);
    match kind {
        ServiceKind::Library => {
            RunningService::start(
                kind,
                &schema,
                Default::default(),
                |_| {},
                trellis_library::build,
            )
            .await
        }
        ServiceKind::Imports => {
            RunningService::start(
                kind,
                &schema,
                Default::default(),
                |_| {},
                trellis_imports::build,
            )
            .await
        }
        ServiceKind::Tokens => {
            RunningService::start(
                kind,
                &schema,
                Default::default(),
                |_| {},
                trellis_tokens::build,
            )
            .await
        }
        ServiceKind::Refresh => {
            RunningService::start(
                kind,
                &schema,
                Default::default(),
                |_| {},
                trellis_refresh::build,
            )
            .await
        }
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

#[tokio::test(flavor = "multi_thread")]
async fn every_service_refuses_a_call_without_a_valid_token() {
    for kind in ServiceKind::ALL {
        let service = start(kind).await;
        let method = format!("/{}/NoSuchMethod", grpc_service(kind));
        let account = Uuid::new_v4();
        let channel = service.server.channel();

        let missing = call(channel.clone(), &method, None).await;
        assert_eq!(
            missing.code(),
            Code::Unauthenticated,
            "{kind:?} without a token"
        );
        let forged = call(channel.clone(), &method, Some(&tokens::forged(account))).await;
        assert_eq!(
            forged.code(),
            Code::Unauthenticated,
            "{kind:?} with a forged token"
        );
        let expired = call(channel.clone(), &method, Some(&tokens::expired(account))).await;
        assert_eq!(
            expired.code(),
            Code::Unauthenticated,
            "{kind:?} with an expired token"
        );
        assert!(
            !expired.message().contains(&tokens::expired(account)),
            "the token never appears in an error"
        );
        let garbage = call(channel.clone(), &method, Some("not-a-jwt")).await;
        assert_eq!(
            garbage.code(),
            Code::Unauthenticated,
            "{kind:?} with garbage"
        );

        // A valid token passes authentication and reaches the (unknown) method.
        let valid = call(channel, &method, Some(&tokens::admin(account))).await;
        assert_eq!(
            valid.code(),
            Code::Unimplemented,
            "{kind:?} with a valid token"
        );
    }
}

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

        // The symbol resolves to its file, so grpcurl can describe it.
        let mut client = ServerReflectionClient::new(service.server.channel());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                grpc_service(kind).to_owned(),
            )),
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
            "{kind:?}: {:?}",
            response.message_response
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_per_database() {
    for kind in ServiceKind::ALL {
        let schema = schema(kind);
        let database = TestDatabase::empty(kind.name()).await;
        let expected = std::fs::read_dir(schema.migrations_dir)
            .expect("the migrations folder")
            .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
            .count();
        assert!(expected > 0, "{kind:?} has migrations");

        let first = db::migrate(&database.url, &schema).await.expect("migrate");
        assert_eq!(first.len(), expected, "{kind:?}: the first run applies all");
        let second = db::migrate(&database.url, &schema)
            .await
            .expect("migrate again");
        assert!(
            second.is_empty(),
            "{kind:?}: the second run applies none: {second:?}"
        );

        let mut conn = database.connect().await;
        let recorded = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .execute(&mut conn)
            .await
            .expect("the migrations table");
        assert_eq!(recorded, expected, "{kind:?}: each migration recorded once");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrate_command_applies_and_then_finds_nothing_to_do() {
    let database = TestDatabase::empty("library").await;
    for round in 0..2 {
        let output = tokio::process::Command::new(binary("trellis-library"))
            .arg("migrate")
            .env("DATABASE_URL", &database.url)
            .env("TRELLIS_LOG_FORMAT", "json")
            .output()
            .await
            .expect("run trellis-library migrate");
        assert!(output.status.success(), "migrate exits 0");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let applied = stdout
            .lines()
            .filter_map(serde_json_value)
            .find_map(|json| json.get("applied").and_then(|n| n.as_u64()))
            .expect("migrate reports how many it applied");
        if round == 0 {
            assert!(applied > 0);
        } else {
            assert_eq!(applied, 0, "nothing is applied twice");
        }
    }
}

fn serde_json_value(line: &str) -> Option<serde_json::Value> {
    serde_json::from_str(line).ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_traceparent_continues_in_the_server_spans() {
    let receiver = OtlpReceiver::start().await;
    let database = TestDatabase::new(&trellis_library::SCHEMA).await;
    let env = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
    ]);
    let process = ServiceProcess::start(binary("trellis-library"), &database.url, &env).await;
    let channel = trellis_platform::client::channel(&process.url()).expect("channel");

    let trace_id = Uuid::new_v4().simple().to_string();
    let parent_span_id = &Uuid::new_v4().simple().to_string()[..16];
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("connects");
    let mut request = authorized((), &tokens::admin(Uuid::new_v4()));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span_id}-01")
            .parse()
            .expect("metadata"),
    );
    let path = PathAndQuery::from_static("/trellis.library.v1.LibraryService/NoSuchMethod");
    let _ = grpc
        .unary(request, path, tonic_prost::ProstCodec::<(), ()>::default())
        .await;

    let spans = eventually("the server's span to be exported", WAIT, || {
        let spans = receiver.spans_of_trace(&trace_id);
        async move { (!spans.is_empty()).then_some(spans) }
    })
    .await;
    let root = spans
        .iter()
        .find(|span| span.parent_span_id == parent_span_id)
        .unwrap_or_else(|| panic!("a span whose parent is the caller's: {spans:?}"));
    assert_eq!(root.service, "library");
    assert!(
        root.name.contains("LibraryService/NoSuchMethod"),
        "{}",
        root.name
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_to_old_request_ids_are_purged_and_recent_ones_kept() {
    let database = TestDatabase::new(&trellis_library::SCHEMA).await;
    let mut conn = database.connect().await;
    diesel::sql_query(
        "INSERT INTO request_ids (scope, method, request_id, response, created_at) VALUES \
         ('test', 'CreateKlip', 'old', '', now() - interval '8 days'), \
         ('test', 'CreateKlip', 'recent', '', now() - interval '6 days')",
    )
    .execute(&mut conn)
    .await
    .expect("seed request ids");

    // The server purges at start, with the default retention of a week.
    let context = trellis_platform::service::ServiceContext::new(
        ServiceKind::Library,
        trellis_testkit::test_config(&database.url),
        Default::default(),
        database.pool(),
    )
    .expect("a context");
    let _server =
        trellis_testkit::TestServer::spawn(trellis_library::build(context).await.expect("builds"))
            .await;
    let kept = eventually("the week-old answer to be purged", WAIT, || {
        let url = database.url.clone();
        async move {
            use diesel_async::AsyncConnection;
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .ok()?;
            let remaining: Vec<RequestId> =
                diesel::sql_query("SELECT request_id FROM request_ids ORDER BY request_id")
                    .load(&mut conn)
                    .await
                    .ok()?;
            (remaining.len() == 1).then_some(remaining)
        }
    })
    .await;
    assert_eq!(kept[0].request_id, "recent");
}

#[derive(diesel::QueryableByName)]
struct RequestId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
}
