//! What every service does before it has behaviour of its own: refuse calls without a valid
//! token (and service tokens meant for another service), refuse to start on missing or
//! published secrets outside development mode, answer health checks that follow the
//! database, describe itself through reflection, apply its migrations once, and continue a
//! caller's trace.

use std::collections::HashMap;
use std::process::Stdio;
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
use trellis_platform::auth::{Identity, TokenMinter};
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::db::{self, Schema};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::process::{ServiceProcess, binary};
use trellis_testkit::tokens::TEST_SECRET;
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

        // A valid token passes authentication; a method without an access rule is refused
        // at the gate all the same (docs/access.md).
        let valid = call(channel.clone(), &method, Some(&tokens::admin(account))).await;
        assert_eq!(
            valid.code(),
            Code::PermissionDenied,
            "{kind:?} with a valid token, for a method without a rule: {valid:?}"
        );
        assert!(
            valid.message().contains("has no access rule"),
            "{kind:?}: {}",
            valid.message()
        );
        // And reaches the handler of a method whose rule admits it.
        let (read, answer) = operator_read(kind);
        let reached = call(channel, read, Some(&tokens::service())).await;
        assert_eq!(
            reached.code(),
            answer,
            "{kind:?}: an operator's token reaches the handler of {read}: {reached:?}"
        );
    }
}

/// A read of each service that an operator may make, and the handler's answer to an empty
/// request.
fn operator_read(kind: ServiceKind) -> (&'static str, Code) {
    match kind {
        ServiceKind::Library => ("/trellis.library.v1.LibraryService/ListAccounts", Code::Ok),
        // A service token names the account whose imports it lists.
        ServiceKind::Imports => (
            "/trellis.imports.v1.ImportService/ListImports",
            Code::InvalidArgument,
        ),
        ServiceKind::Tokens => ("/trellis.tokens.v1.TokenService/ListProviders", Code::Ok),
        ServiceKind::Refresh => (
            "/trellis.refresh.v1.RefreshService/GetQueueStatus",
            Code::Ok,
        ),
    }
}

/// Runs `kind`'s binary to serve with `env` only (no TRELLIS_DEVELOPMENT), on a database of
/// its own; returns its exit status and everything it printed. The process must exit by
/// itself: it is killed, and the test fails, if it is still running after the deadline.
async fn serve_outside_development(
    kind: ServiceKind,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let database = TestDatabase::new(&schema(kind)).await;
    let binary = binary(&format!("trellis-{}", kind.name()));
    let child = tokio::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("TRELLIS_LISTEN_ADDR", "127.0.0.1:0")
        .env("TRELLIS_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{kind:?} with {env:?} did not exit: it started"))
        .expect("the process's output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status, printed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_secrets_outside_development_mode_exits_with_a_clear_message() {
    // A random secret of the right length, as a deployment would set.
    let good_secret = Uuid::new_v4().simple().to_string();
    for kind in ServiceKind::ALL {
        for (secret, expected) in [
            (None, "TRELLIS_JWT_SECRET is not set"),
            (
                Some("replace-me"),
                "TRELLIS_JWT_SECRET is a published placeholder",
            ),
            (Some("too-short"), "TRELLIS_JWT_SECRET is 9 bytes"),
        ] {
            let env: Vec<(&str, &str)> = secret
                .map(|secret| ("TRELLIS_JWT_SECRET", secret))
                .into_iter()
                .collect();
            let (status, printed) = serve_outside_development(kind, &env).await;
            assert!(
                !status.success(),
                "{kind:?} with secret {secret:?} exits non-zero: {status}\n{printed}"
            );
            assert!(
                printed.contains(expected),
                "{kind:?} with secret {secret:?} says {expected:?}:\n{printed}"
            );
            assert!(
                printed.contains("TRELLIS_DEVELOPMENT=true"),
                "{kind:?} names the development switch:\n{printed}"
            );
            assert!(
                !printed.contains("serving gRPC"),
                "{kind:?} never served:\n{printed}"
            );
        }
    }

    // The token registry also needs its encryption keys, whatever the JWT secret.
    let (status, printed) = serve_outside_development(
        ServiceKind::Tokens,
        &[("TRELLIS_JWT_SECRET", good_secret.as_str())],
    )
    .await;
    assert!(
        !status.success(),
        "tokens without encryption keys exits non-zero: {status}\n{printed}"
    );
    assert!(
        printed.contains("TRELLIS_TOKENS_ENCRYPTION_KEYS is not set"),
        "tokens names its missing keys:\n{printed}"
    );
    assert!(
        !printed.contains("TRELLIS_JWT_SECRET is"),
        "a good secret is not complained about:\n{printed}"
    );
    assert!(!printed.contains("serving gRPC"), "{printed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_token_for_one_service_is_refused_by_another() {
    let tokens_service = start(ServiceKind::Tokens).await;
    let library_service = start(ServiceKind::Library).await;
    let refresh = TokenMinter::hs256(TEST_SECRET.as_bytes(), Identity::Refresh);
    let for_tokens = refresh.service_token(ServiceKind::Tokens);
    let unknown = Uuid::new_v4().to_string();

    // The token registry accepts the refresh service's token for it: the call reaches the
    // handler, which finds no such token.
    let limits = TokenServiceClient::new(tokens_service.server.channel())
        .get_token_limits(authorized(
            tokens_pb::GetTokenLimitsRequest {
                token_id: unknown.clone(),
                rate_limit_key: String::new(),
            },
            &for_tokens,
        ))
        .await
        .expect_err("no such token");
    assert_eq!(limits.code(), Code::NotFound, "{limits:?}");

    // The library refuses the same token: its audience is the token registry alone.
    let library_client = LibraryServiceClient::new(library_service.server.channel());
    let resolve = |bearer: String| {
        let mut library_client = library_client.clone();
        let request = library::ResolveDataSourceRequest {
            data_source_id: unknown.clone(),
            account_id: Uuid::new_v4().to_string(),
            user_id: String::new(),
        };
        async move {
            library_client
                .resolve_data_source(authorized(request, &bearer))
                .await
                .expect_err("no such data source")
        }
    };
    let refused = resolve(for_tokens.clone()).await;
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(
        !refused.message().contains(&for_tokens),
        "the token never appears in an error"
    );
    // The refresh service's token for the library is accepted there.
    let accepted = resolve(refresh.service_token(ServiceKind::Library)).await;
    assert_eq!(accepted.code(), Code::NotFound, "{accepted:?}");

    // An identity the method's rule does not list is refused, audience or not.
    let imports_token = TokenMinter::hs256(TEST_SECRET.as_bytes(), Identity::Imports)
        .service_token(ServiceKind::Tokens);
    let not_listed = TokenServiceClient::new(tokens_service.server.channel())
        .get_token_limits(authorized(
            tokens_pb::GetTokenLimitsRequest {
                token_id: unknown,
                rate_limit_key: String::new(),
            },
            &imports_token,
        ))
        .await
        .expect_err("GetTokenLimits is the refresh service's");
    assert_eq!(not_listed.code(), Code::PermissionDenied, "{not_listed:?}");
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
