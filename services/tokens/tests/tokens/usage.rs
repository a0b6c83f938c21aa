//! T3 against the real library service: every data source, master or instance, in every
//! account, that uses a token; what deleting it breaks; what a T2 invalidation breaks.

use tonic::Code;
use trellis_platform::client::TracedChannel;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::{RunningService, tokens};
use uuid::Uuid;

use crate::common::*;

async fn account(
    library: &mut LibraryServiceClient<TracedChannel>,
    kind: library::AccountKind,
    parent: Option<Uuid>,
) -> Uuid {
    library
        .create_account(call(
            library::CreateAccountRequest {
                request_id: String::new(),
                account: Some(library::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: format!("{kind:?}"),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateAccount")
        .into_inner()
        .account
        .unwrap()
        .id
        .parse()
        .unwrap()
}

/// A data source of `account` that authenticates with `token_id` (or nothing).
async fn data_source(
    library: &mut LibraryServiceClient<TracedChannel>,
    account: Uuid,
    name: &str,
    token_id: Option<&str>,
) -> Uuid {
    library
        .create_data_source(call(
            library::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(library::DataSource {
                    account_id: account.to_string(),
                    name: name.into(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: "https://api.example.test/report".into(),
                        headers: vec![],
                        body: String::new(),
                    }),
                    format: library::DataFormat::Json as i32,
                    auth: token_id.map(|id| library::DataSourceAuth {
                        kind: 0,
                        method: Some(library::data_source_auth::Method::TokenId(id.to_owned())),
                    }),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateDataSource")
        .into_inner()
        .data_source
        .unwrap()
        .id
        .parse()
        .unwrap()
}

async fn grant(
    client: &mut trellis_proto::tokens::v1::token_service_client::TokenServiceClient<TracedChannel>,
    token_id: &str,
    grantee: Uuid,
    data_source: Uuid,
) -> String {
    client
        .create_token_grant(call(
            CreateTokenGrantRequest {
                request_id: String::new(),
                grant: Some(TokenGrant {
                    token_id: token_id.to_owned(),
                    grantee_account_id: grantee.to_string(),
                    data_source_id: data_source.to_string(),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap()
        .id
}

fn sorted(mut uses: Vec<TokenUse>) -> Vec<(String, i32, bool, bool)> {
    let mut out: Vec<_> = uses
        .drain(..)
        .map(|u| (u.data_source_name, u.via, u.master, !u.grant_id.is_empty()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_lists_masters_and_instances_and_deleting_reports_them() {
    let library_service = RunningService::start(
        ServiceKind::Library,
        &trellis_library::SCHEMA,
        Default::default(),
        |_| {},
        trellis_library::build,
    )
    .await;
    let mut library = LibraryServiceClient::new(library_service.server.channel());
    let fixture = Fixture::start_with(
        OAuthServerConfig::default(),
        settings(),
        &library_service.server.url(),
    )
    .await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();

    let partner = account(&mut library, library::AccountKind::Partner, None).await;
    let client_a = account(&mut library, library::AccountKind::Client, Some(partner)).await;
    let client_b = account(&mut library, library::AccountKind::Client, Some(partner)).await;
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();

    data_source(
        &mut library,
        partner,
        "GA sessions (master)",
        Some(&token.id),
    )
    .await;
    data_source(&mut library, partner, "Public CSV", None).await;
    let instance_a = data_source(
        &mut library,
        client_a,
        "GA sessions (client A)",
        Some(&token.id),
    )
    .await;
    let instance_b = data_source(
        &mut library,
        client_b,
        "GA sessions (client B)",
        Some(&token.id),
    )
    .await;
    // Names the token but holds no grant: it cannot use it, so it is not a use.
    data_source(&mut library, client_b, "Stray copy", Some(&token.id)).await;
    grant(&mut client, &token.id, client_a, instance_a).await;
    grant(&mut client, &token.id, client_b, instance_b).await;

    let expected = vec![
        (
            "GA sessions (client A)".to_owned(),
            TokenUseVia::Grant as i32,
            false,
            true,
        ),
        (
            "GA sessions (client B)".to_owned(),
            TokenUseVia::Grant as i32,
            false,
            true,
        ),
        (
            "GA sessions (master)".to_owned(),
            TokenUseVia::Owner as i32,
            true,
            false,
        ),
    ];
    for bearer in [tokens::viewer(partner), tokens::service()] {
        let uses = client
            .get_token_usage(call(
                GetTokenUsageRequest {
                    token_id: token.id.clone(),
                },
                &bearer,
            ))
            .await
            .unwrap()
            .into_inner()
            .uses;
        assert_eq!(sorted(uses), expected);
    }
    let nosy = client
        .get_token_usage(call(
            GetTokenUsageRequest {
                token_id: token.id.clone(),
            },
            &tokens::admin(client_a),
        ))
        .await
        .unwrap_err();
    assert_eq!(nosy.code(), Code::NotFound);

    // Deleting it is refused while it is used, naming every user.
    let delete = |force: bool| DeleteTokenRequest {
        request_id: format!("delete-{force}"),
        id: token.id.clone(),
        account_id: String::new(),
        etag: String::new(),
        force,
    };
    let refused = client
        .delete_token(call(delete(false), &tokens::admin(partner)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        details(&refused)
            .precondition_failure()
            .unwrap()
            .violations
            .len(),
        3
    );

    // Forced: revoked at the provider, the breakage reported, the token a tombstone.
    let deleted = client
        .delete_token(call(delete(true), &tokens::admin(partner)))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.revoked_at_provider);
    assert_eq!(fixture.oauth.counters().revocations, 1);
    assert_eq!(sorted(deleted.affected_data_sources), expected);
    let tombstone = get_token(&mut client, partner, &token.id).await;
    assert_eq!(tombstone.status, TokenStatus::Revoked as i32);
    let listed = client
        .list_tokens(call(ListTokensRequest::default(), &tokens::admin(partner)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.tokens.is_empty(),
        "a deleted token is no connected account"
    );
    let master = access_token(&mut client, &token.id, partner, Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_eq!(master.code(), Code::FailedPrecondition);
    let instance = access_token(&mut client, &token.id, client_a, instance_a, 0)
        .await
        .unwrap_err();
    assert_eq!(
        instance.code(),
        Code::PermissionDenied,
        "its grants are gone"
    );

    // A token nothing uses is simply gone.
    let unused = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    let gone = client
        .delete_token(call(
            DeleteTokenRequest {
                id: unused.id.clone(),
                ..Default::default()
            },
            &tokens::admin(partner),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(gone.affected_data_sources.is_empty());
    let missing = client
        .get_token(call(
            GetTokenRequest {
                id: unused.id,
                account_id: String::new(),
            },
            &tokens::admin(partner),
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidation_past_the_limit_lists_what_it_breaks() {
    let library_service = RunningService::start(
        ServiceKind::Library,
        &trellis_library::SCHEMA,
        Default::default(),
        |_| {},
        trellis_library::build,
    )
    .await;
    let mut library = LibraryServiceClient::new(library_service.server.channel());
    let fixture = Fixture::start_with(
        OAuthServerConfig {
            max_tokens_per_user: Some(1),
            ..Default::default()
        },
        settings(),
        &library_service.server.url(),
    )
    .await;
    let provider = fixture.provider(1, 0).await;
    let mut client = fixture.client.clone();
    let partner = account(&mut library, library::AccountKind::Partner, None).await;
    let client_a = account(&mut library, library::AccountKind::Client, Some(partner)).await;

    let old = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    data_source(&mut library, partner, "Master report", Some(&old.id)).await;
    let instance = data_source(&mut library, client_a, "Client report", Some(&old.id)).await;
    grant(&mut client, &old.id, client_a, instance).await;

    let new = authorize(&mut client, partner, &provider.id, None).await;
    assert_eq!(new.invalidated_token_ids, std::slice::from_ref(&old.id));
    let broken: Vec<String> = new
        .invalidated_token_uses
        .iter()
        .map(|u| u.data_source_name.clone())
        .collect();
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken.contains(&"Master report".to_owned()));
    assert!(broken.contains(&"Client report".to_owned()));
}
