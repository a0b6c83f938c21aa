//! T3 against the real library service: every data source, master or instance, in every
//! account, that uses a token; what deleting it breaks; what a T2 invalidation breaks.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_platform::client::TracedChannel;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

/// A data source of `account` that authenticates with `token_id` (or nothing).
async fn data_source(
    library: &mut LibraryServiceClient<TracedChannel>,
    account: Uuid,
    name: &str,
    token_id: Option<&str>,
) -> Result<Uuid, tonic::Status> {
    let created = library
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
        .await?
        .into_inner()
        .data_source
        .unwrap();
    Ok(created.id.parse().unwrap())
}

/// What an import's first step does: `master` of `source` cloned into `destination` (the
/// instance names the master's token), then named `name` there. Returns the instance.
async fn instance(
    library: &mut LibraryServiceClient<TracedChannel>,
    master: Uuid,
    source: Uuid,
    destination: Uuid,
    name: &str,
) -> Uuid {
    let cloned = library
        .clone_assets(call(
            library::CloneAssetsRequest {
                request_id: Uuid::new_v4().to_string(),
                source_account_id: source.to_string(),
                destination_account_id: destination.to_string(),
                assets: vec![library::AssetRef {
                    kind: library::AssetKind::DataSource as i32,
                    id: master.to_string(),
                }],
                reuse_ids: Default::default(),
            },
            &tokens::service_as(Identity::Imports),
        ))
        .await
        .expect("CloneAssets")
        .into_inner();
    let id = cloned
        .mappings
        .iter()
        .find(|m| m.source_id == master.to_string())
        .expect("a mapping of the master")
        .destination_id
        .clone();
    library
        .update_data_source(call(
            library::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(library::DataSource {
                    id: id.clone(),
                    account_id: destination.to_string(),
                    name: name.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("UpdateDataSource (name)");
    id.parse().unwrap()
}

/// The import's next step: the grant for the instance (I6).
async fn grant(
    client: &mut trellis_proto::tokens::v1::token_service_client::TokenServiceClient<TracedChannel>,
    token_id: &str,
    source: Uuid,
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
                source_account_id: source.to_string(),
            },
            &tokens::service_as(Identity::Imports),
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
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut library = fixture.library.client();
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();

    let partner = fixture
        .library
        .account(library::AccountKind::Partner, None)
        .await;
    let client_a = fixture
        .library
        .account(library::AccountKind::Client, Some(partner))
        .await;
    let client_b = fixture
        .library
        .account(library::AccountKind::Client, Some(partner))
        .await;
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();

    let master = data_source(
        &mut library,
        partner,
        "GA sessions (master)",
        Some(&token.id),
    )
    .await
    .expect("the partner's data source names its own token");
    data_source(&mut library, partner, "Public CSV", None)
        .await
        .unwrap();
    // Instances, as imports make them: cloned, then granted the master's token.
    let instance_a = instance(
        &mut library,
        master,
        partner,
        client_a,
        "GA sessions (client A)",
    )
    .await;
    let instance_b = instance(
        &mut library,
        master,
        partner,
        client_b,
        "GA sessions (client B)",
    )
    .await;
    grant(&mut client, &token.id, partner, client_a, instance_a).await;
    grant(&mut client, &token.id, partner, client_b, instance_b).await;
    // A client cannot save a data source of its own naming the partner's token (I15).
    let not_its_own = data_source(&mut library, client_b, "Stray", Some(&token.id))
        .await
        .unwrap_err();
    assert_eq!(not_its_own.code(), Code::InvalidArgument, "{not_its_own:?}");
    assert!(
        details(&not_its_own)
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .any(|v| v.field == "data_source.auth.token_id"),
        "{not_its_own:?}"
    );
    // A clone that names the token but holds no grant (an import that never got to its
    // grant): it cannot use the token, so it is not a use.
    instance(&mut library, master, partner, client_b, "Stray copy").await;

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
    let fixture = Fixture::start(OAuthServerConfig {
        max_tokens_per_user: Some(1),
        ..Default::default()
    })
    .await;
    let mut library = fixture.library.client();
    let provider = fixture.provider(1, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture
        .library
        .account(library::AccountKind::Partner, None)
        .await;
    let client_a = fixture
        .library
        .account(library::AccountKind::Client, Some(partner))
        .await;

    let old = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    let master = data_source(&mut library, partner, "Master report", Some(&old.id))
        .await
        .unwrap();
    let instance = instance(&mut library, master, partner, client_a, "Client report").await;
    grant(&mut client, &old.id, partner, client_a, instance).await;

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
