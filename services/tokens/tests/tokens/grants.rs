//! Token grants (I6): one data source of another account uses a token; the token is not
//! that account's connected account (T1).

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

/// A grant as an import from `source` makes it.
fn grant(
    token_id: &str,
    source: Uuid,
    grantee: Uuid,
    data_source: Uuid,
) -> CreateTokenGrantRequest {
    CreateTokenGrantRequest {
        request_id: format!("grant-{data_source}"),
        grant: Some(TokenGrant {
            token_id: token_id.to_owned(),
            grantee_account_id: grantee.to_string(),
            data_source_id: data_source.to_string(),
            ..Default::default()
        }),
        source_account_id: source.to_string(),
    }
}

/// The grants on `token_id`, as its owner's viewer lists them.
async fn grants_of(
    client: &mut token_service_client::TokenServiceClient<trellis_platform::client::TracedChannel>,
    owner: Uuid,
    token_id: &str,
) -> Vec<TokenGrant> {
    client
        .list_token_grants(call(
            ListTokenGrantsRequest {
                token_id: token_id.to_owned(),
                ..Default::default()
            },
            &tokens::viewer(owner),
        ))
        .await
        .unwrap()
        .into_inner()
        .grants
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_serves_exactly_its_data_source_and_is_never_a_connected_account() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let grantee = fixture.account().await;
    let imports = tokens::service_as(Identity::Imports);
    let instance = Uuid::new_v4();
    let other_data_source = Uuid::new_v4();
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();

    // Only the import service grants: neither the owner's admin nor an operator.
    for bearer in [tokens::admin(partner), tokens::service()] {
        let refused = client
            .create_token_grant(call(grant(&token.id, partner, grantee, instance), &bearer))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    assert!(grants_of(&mut client, partner, &token.id).await.is_empty());
    let created = client
        .create_token_grant(call(grant(&token.id, partner, grantee, instance), &imports))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    // Idempotent on (token, data source) even under another request id.
    let mut again = grant(&token.id, partner, grantee, instance);
    again.request_id = "another-id".into();
    let same = client
        .create_token_grant(call(again, &imports))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(same.id, created.id);

    // The grantee's data source gets access tokens; no other data source of it does.
    let access = access_token(&mut client, &token.id, grantee, instance, 0)
        .await
        .unwrap();
    assert!(fixture.oauth.is_access_token_valid(&access.access_token));
    let refused = access_token(&mut client, &token.id, grantee, other_data_source, 0)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // Nor the same data source id claimed for a third account.
    let third = access_token(&mut client, &token.id, Uuid::new_v4(), instance, 0)
        .await
        .unwrap_err();
    assert_eq!(third.code(), Code::PermissionDenied);

    // Never among the grantee's connected accounts, nor readable as its token (T1).
    for bearer in [tokens::admin(grantee), tokens::viewer(grantee)] {
        let listed = client
            .list_tokens(call(ListTokensRequest::default(), &bearer))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.tokens.is_empty(), "{:?}", listed.tokens);
    }
    let as_own = client
        .get_token(call(
            GetTokenRequest {
                id: token.id.clone(),
                account_id: String::new(),
            },
            &tokens::admin(grantee),
        ))
        .await
        .unwrap_err();
    assert_eq!(as_own.code(), Code::NotFound);
    let service_list = client
        .list_tokens(call(
            ListTokensRequest {
                account_id: grantee.to_string(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(service_list.tokens.is_empty());

    // The owner lists the token's grants; the service lists grants to the grantee.
    assert_eq!(grants_of(&mut client, partner, &token.id).await.len(), 1);
    let to_grantee = client
        .list_token_grants(call(
            ListTokenGrantsRequest {
                grantee_account_id: grantee.to_string(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_grantee.grants[0].id, created.id);
    let both = client
        .list_token_grants(call(ListTokenGrantsRequest::default(), &tokens::service()))
        .await
        .unwrap_err();
    assert_eq!(both.code(), Code::InvalidArgument);
    let nosy = client
        .list_token_grants(call(
            ListTokenGrantsRequest {
                token_id: token.id.clone(),
                ..Default::default()
            },
            &tokens::admin(grantee),
        ))
        .await
        .unwrap_err();
    assert_eq!(nosy.code(), Code::NotFound);

    // Granting to the owner itself makes no sense.
    let to_owner = client
        .create_token_grant(call(
            grant(&token.id, partner, partner, Uuid::new_v4()),
            &imports,
        ))
        .await
        .unwrap_err();
    assert_eq!(to_owner.code(), Code::InvalidArgument);

    // The owner's admin takes the grant back; the instance loses access.
    let by_grantee = client
        .delete_token_grant(call(
            DeleteTokenGrantRequest {
                id: created.id.clone(),
                ..Default::default()
            },
            &tokens::admin(grantee),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_grantee.code(), Code::NotFound);
    client
        .delete_token_grant(call(
            DeleteTokenGrantRequest {
                id: created.id.clone(),
                ..Default::default()
            },
            &tokens::admin(partner),
        ))
        .await
        .unwrap();
    let revoked = access_token(&mut client, &token.id, grantee, instance, 0)
        .await
        .unwrap_err();
    assert_eq!(revoked.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_is_made_only_for_a_token_of_the_imports_source_account() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let sibling = fixture.account().await;
    let grantee = fixture.account().await;
    let instance = Uuid::new_v4();
    let imports = tokens::service_as(Identity::Imports);
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();

    // An import from another account (a sibling, or the grantee itself) cannot hand out the
    // partner's token: to it the token does not exist (I15).
    for source in [sibling, grantee] {
        let refused = client
            .create_token_grant(call(grant(&token.id, source, grantee, instance), &imports))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{source}: {refused:?}");
    }
    let mut missing = grant(&token.id, partner, grantee, instance);
    missing.source_account_id = String::new();
    let missing = client
        .create_token_grant(call(missing, &imports))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(
        details(&missing)
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .any(|v| v.field == "source_account_id"),
        "{missing:?}"
    );

    // No grant was made: none listed, no access token, nothing for the library to allow.
    assert!(grants_of(&mut client, partner, &token.id).await.is_empty());
    let to_grantee = client
        .list_token_grants(call(
            ListTokenGrantsRequest {
                grantee_account_id: grantee.to_string(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(to_grantee.grants.is_empty(), "{:?}", to_grantee.grants);
    let refused = access_token(&mut client, &token.id, grantee, instance, 0)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        holding(
            &mut client,
            grantee,
            Some(instance),
            Auth::TokenId(token.id.clone())
        )
        .await,
        AuthHolding::Unspecified
    );

    // The same grant (under the same request id) from the token's own account is made.
    let made = client
        .create_token_grant(call(grant(&token.id, partner, grantee, instance), &imports))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(made.grantee_account_id, grantee.to_string());
    assert_eq!(grants_of(&mut client, partner, &token.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_learns_which_tokens_a_data_source_may_name() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let grantee = fixture.account().await;
    let stranger = fixture.account().await;
    let instance = Uuid::new_v4();
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    let strangers_token = authorize(&mut client, stranger, &provider.id, None)
        .await
        .token
        .unwrap();
    client
        .create_token_grant(call(
            grant(&token.id, partner, grantee, instance),
            &tokens::service_as(Identity::Imports),
        ))
        .await
        .unwrap();
    let named = |token_id: &str| Auth::TokenId(token_id.to_owned());

    // The owner's data sources, new or saved, own it.
    for data_source in [None, Some(Uuid::new_v4()), Some(instance)] {
        assert_eq!(
            holding(&mut client, partner, data_source, named(&token.id)).await,
            AuthHolding::Owned,
            "{data_source:?}"
        );
    }
    // The grantee's data source holding the grant borrows it.
    assert_eq!(
        holding(&mut client, grantee, Some(instance), named(&token.id)).await,
        AuthHolding::Borrowed
    );

    // Nothing else may name it: another data source of the grantee (or one not created
    // yet), the same data source id claimed by a third account, another account's token,
    // and a token that does not exist.
    let refused = [
        (grantee, Some(Uuid::new_v4()), named(&token.id)),
        (grantee, None, named(&token.id)),
        (stranger, Some(instance), named(&token.id)),
        (partner, Some(Uuid::new_v4()), named(&strangers_token.id)),
        (grantee, Some(instance), named(&strangers_token.id)),
        (grantee, Some(instance), named(&Uuid::new_v4().to_string())),
    ];
    for (account, data_source, auth) in refused {
        assert_eq!(
            holding(&mut client, account, data_source, auth.clone()).await,
            AuthHolding::Unspecified,
            "{account} {data_source:?} {auth:?}"
        );
    }

    // Only the library asks: not a member, not an operator, not another service.
    for bearer in [
        tokens::admin(partner),
        tokens::service(),
        tokens::service_as(Identity::Imports),
    ] {
        let refused = client
            .check_data_source_auth(call(
                CheckDataSourceAuthRequest {
                    account_id: partner.to_string(),
                    data_source_id: String::new(),
                    auth: Some(named(&token.id)),
                    ..Default::default()
                },
                &bearer,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_serves_only_the_query_it_was_made_for() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let grantee = fixture.account().await;
    let instance = Uuid::new_v4();
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    let (imported, edited) = ("a1".repeat(32), "b2".repeat(32));
    let mut bound = grant(&token.id, partner, grantee, instance);
    bound.grant.as_mut().unwrap().request_fingerprint = imported.clone();
    let stored = client
        .create_token_grant(call(bound, &tokens::service_as(Identity::Imports)))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(stored.request_fingerprint, imported);

    let reader = client.clone();
    let access = |fingerprint: String| {
        let mut client = reader.clone();
        let token_id = token.id.clone();
        async move {
            client
                .get_access_token(call(
                    GetAccessTokenRequest {
                        token_id,
                        account_id: grantee.to_string(),
                        data_source_id: instance.to_string(),
                        request_fingerprint: fingerprint,
                        ..Default::default()
                    },
                    &tokens::service_as(Identity::Refresh),
                ))
                .await
        }
    };
    // I14 in depth: whatever changed the instance, its new query gets no token.
    let refused = access(edited.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let failure = details(&refused).precondition_failure().unwrap().clone();
    assert_eq!(failure.violations[0].r#type, "QUERY_CHANGED_SINCE_IMPORT");
    assert!(
        access(imported.clone()).await.is_ok(),
        "the imported query is served"
    );

    // The library learns whether the grant serves the query being saved.
    for (fingerprint, serves) in [(imported.clone(), true), (edited.clone(), false)] {
        let answer = client
            .check_data_source_auth(call(
                CheckDataSourceAuthRequest {
                    account_id: grantee.to_string(),
                    data_source_id: instance.to_string(),
                    auth: Some(Auth::TokenId(token.id.clone())),
                    request_fingerprint: fingerprint,
                },
                &tokens::service_as(Identity::Library),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.holding, AuthHolding::Borrowed as i32);
        assert_eq!(answer.serves_request, serves);
    }

    // An update that pushed the master's new query rebinds the grant.
    let mut rebound = grant(&token.id, partner, grantee, instance);
    rebound.request_id = "rebind".into();
    rebound.grant.as_mut().unwrap().request_fingerprint = edited.clone();
    client
        .create_token_grant(call(rebound, &tokens::service_as(Identity::Imports)))
        .await
        .unwrap();
    assert!(access(edited).await.is_ok(), "the new query is served");
    let refused = access(imported).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}
