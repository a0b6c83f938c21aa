//! Who gets in: no call without a valid token, a method without an access rule refused at
//! the gate, and a service token only where its audience and the method's rule admit it.

use tonic::Code;
use trellis_platform::auth::{Identity, TokenMinter};
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::tokens;
use trellis_testkit::tokens::TEST_SECRET;
use uuid::Uuid;

use crate::{call, grpc_service, start};

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
            date_range: None,
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
