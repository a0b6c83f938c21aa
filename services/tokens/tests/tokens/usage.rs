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
    let created = ask!(library.create_data_source(
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
    ))?
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
    let cloned = ask!(library.clone_assets(
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
    .expect("CloneAssets");
    let id = cloned
        .mappings
        .iter()
        .find(|m| m.source_id == master.to_string())
        .expect("a mapping of the master")
        .destination_id
        .clone();
    ask!(library.update_data_source(
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
    ask!(client.create_token_grant(
        grant_request(token_id, source, grantee, data_source),
        &tokens::service_as(Identity::Imports),
    ))
    .unwrap()
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

/// A new partner account with `N` client accounts.
async fn family<const N: usize>(fixture: &Fixture) -> (Uuid, [Uuid; N]) {
    let partner = fixture
        .library
        .account(library::AccountKind::Partner, None)
        .await;
    let mut clients = [Uuid::nil(); N];
    for client in &mut clients {
        *client = fixture
            .library
            .account(library::AccountKind::Client, Some(partner))
            .await;
    }
    (partner, clients)
}

/// The instance an import makes of master `import.data_source` in `import.destination`,
/// "GA sessions (client <suffix>)": cloned, then granted `token_id`.
async fn imported(
    library: &mut LibraryServiceClient<TracedChannel>,
    client: &mut Client,
    import: Import,
    token_id: &str,
    suffix: &str,
) -> Uuid {
    let name = format!("GA sessions (client {suffix})");
    let made = instance(
        library,
        import.data_source,
        import.source,
        import.destination,
        &name,
    )
    .await;
    grant(client, token_id, import.source, import.destination, made).await;
    made
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_lists_masters_and_instances_and_deleting_reports_them() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut library = fixture.library.client();
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();

    let (partner, [client_a, client_b]) = family(&fixture).await;
    let token = new_token(&mut client, partner, &provider.id).await;

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
    let import = |destination| Import::new(partner, destination, master);
    let instance_a = imported(&mut library, &mut client, import(client_a), &token.id, "A").await;
    imported(&mut library, &mut client, import(client_b), &token.id, "B").await;
    stray_names(&mut library, &token.id, master, partner, client_b).await;

    told_uses(&mut client, &token.id, partner, client_a).await;

    // Deleting it is refused while it is used, naming every user.
    let delete = |force: bool| DeleteTokenRequest {
        request_id: format!("delete-{force}"),
        id: token.id.clone(),
        account_id: String::new(),
        etag: String::new(),
        force,
    };
    let refused = ask!(client.delete_token(delete(false), &tokens::admin(partner))).unwrap_err();
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
    let deleted = ask!(client.delete_token(delete(true), &tokens::admin(partner))).unwrap();
    assert!(deleted.revoked_at_provider);
    assert_eq!(fixture.oauth.counters().revocations, 1);
    assert_eq!(sorted(deleted.affected_data_sources), expected_uses());
    let tombstone = get_token(&mut client, partner, &token.id).await;
    assert_eq!(tombstone.status, TokenStatus::Revoked as i32);
    let listed =
        ask!(client.list_tokens(ListTokensRequest::default(), &tokens::admin(partner))).unwrap();
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

    unused_token_is_gone(&mut client, &provider.id, partner).await;
}

/// Names of the token that are no uses: a client's own data source naming the partner's
/// token is refused (I15), and a clone without a grant is not listed.
async fn stray_names(
    library: &mut LibraryServiceClient<TracedChannel>,
    token_id: &str,
    master: Uuid,
    partner: Uuid,
    client_b: Uuid,
) {
    // A client cannot save a data source of its own naming the partner's token (I15).
    let not_its_own = data_source(library, client_b, "Stray", Some(token_id))
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
    instance(library, master, partner, client_b, "Stray copy").await;
}

/// The uses of the token made in the usage test, as [`sorted`] lists them.
fn expected_uses() -> Vec<(String, i32, bool, bool)> {
    vec![
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
    ]
}

/// The uses of the token, as its account's viewer and a service see them; another account
/// learns nothing.
async fn told_uses(client: &mut Client, token_id: &str, partner: Uuid, client_a: Uuid) {
    let expected = expected_uses();
    for bearer in [tokens::viewer(partner), tokens::service()] {
        let uses = ask!(client.get_token_usage(
            GetTokenUsageRequest {
                token_id: token_id.to_owned(),
            },
            &bearer,
        ))
        .unwrap()
        .uses;
        assert_eq!(sorted(uses), expected);
    }
    let nosy = ask!(client.get_token_usage(
        GetTokenUsageRequest {
            token_id: token_id.to_owned(),
        },
        &tokens::admin(client_a),
    ))
    .unwrap_err();
    assert_eq!(nosy.code(), Code::NotFound);
}

/// A token nothing uses is simply gone.
async fn unused_token_is_gone(client: &mut Client, provider_id: &str, partner: Uuid) {
    // A token nothing uses is simply gone.
    let unused = new_token(client, partner, provider_id).await;
    let gone = ask!(client.delete_token(delete_token(unused.id.clone()), &tokens::admin(partner)))
        .unwrap();
    assert!(gone.affected_data_sources.is_empty());
    let missing =
        ask!(client.get_token(token_request(unused.id), &tokens::admin(partner))).unwrap_err();
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
    let (partner, [client_a]) = family(&fixture).await;

    let old = new_token(&mut client, partner, &provider.id).await;
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
