//! Token grants (I6): one data source of another account uses a token; the token is not
//! that account's connected account (T1).

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
use trellis_proto::tokens::v1::*;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

/// The grants on `token_id`, as its owner's viewer lists them.
async fn grants_of(
    client: &mut token_service_client::TokenServiceClient<trellis_platform::client::TracedChannel>,
    owner: Uuid,
    token_id: &str,
) -> Vec<TokenGrant> {
    ask!(client.list_token_grants(grants_of_token(token_id.to_owned()), &tokens::viewer(owner)))
        .unwrap()
        .grants
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_serves_exactly_its_data_source_and_is_never_a_connected_account() {
    let Scene {
        fixture,
        provider,
        mut client,
        partner,
        grantee,
    } = Scene::start().await;
    let imports = tokens::service_as(Identity::Imports);
    let instance = Uuid::new_v4();
    let other_data_source = Uuid::new_v4();
    let token = new_token(&mut client, partner, &provider.id).await;

    // Only the import service grants: neither the owner's admin nor an operator.
    for bearer in [tokens::admin(partner), tokens::service()] {
        let refused = ask!(client.create_token_grant(
            grant_request(&token.id, partner, grantee, instance),
            &bearer
        ))
        .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    assert!(grants_of(&mut client, partner, &token.id).await.is_empty());
    let created = ask!(client.create_token_grant(
        grant_request(&token.id, partner, grantee, instance),
        &imports
    ))
    .unwrap()
    .grant
    .unwrap();
    // Idempotent on (token, data source) even under another request id.
    let mut again = grant_request(&token.id, partner, grantee, instance);
    again.request_id = "another-id".into();
    let same = ask!(client.create_token_grant(again, &imports))
        .unwrap()
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

    no_connected_account(&mut client, &token, grantee).await;

    grants_listed(&mut client, &token, partner, grantee, &created).await;

    // Granting to the owner itself makes no sense.
    let to_owner = ask!(client.create_token_grant(
        grant_request(&token.id, partner, partner, Uuid::new_v4()),
        &imports,
    ))
    .unwrap_err();
    assert_eq!(to_owner.code(), Code::InvalidArgument);

    // The owner's admin takes the grant back; the instance loses access.
    let by_grantee =
        ask!(client.delete_token_grant(delete_grant(created.id.clone()), &tokens::admin(grantee)))
            .unwrap_err();
    assert_eq!(by_grantee.code(), Code::NotFound);
    ask!(client.delete_token_grant(delete_grant(created.id.clone()), &tokens::admin(partner)))
        .unwrap();
    let revoked = access_token(&mut client, &token.id, grantee, instance, 0)
        .await
        .unwrap_err();
    assert_eq!(revoked.code(), Code::PermissionDenied);
}

/// The owner lists the token's grants; the service lists grants to the grantee; nobody
/// lists both at once, and the grantee not the token's.
async fn grants_listed(
    client: &mut Client,
    token: &Token,
    partner: Uuid,
    grantee: Uuid,
    created: &TokenGrant,
) {
    // The owner lists the token's grants; the service lists grants to the grantee.
    assert_eq!(grants_of(client, partner, &token.id).await.len(), 1);
    let to_grantee =
        ask!(client.list_token_grants(grants_to(grantee), &tokens::service())).unwrap();
    assert_eq!(to_grantee.grants[0].id, created.id);
    let both =
        ask!(client.list_token_grants(ListTokenGrantsRequest::default(), &tokens::service()))
            .unwrap_err();
    assert_eq!(both.code(), Code::InvalidArgument);
    let nosy =
        ask!(client.list_token_grants(grants_of_token(token.id.clone()), &tokens::admin(grantee)))
            .unwrap_err();
    assert_eq!(nosy.code(), Code::NotFound);
}

/// A grant never makes the token one of the grantee's connected accounts, nor readable as
/// its token (T1).
async fn no_connected_account(client: &mut Client, token: &Token, grantee: Uuid) {
    // Never among the grantee's connected accounts, nor readable as its token (T1).
    for bearer in [tokens::admin(grantee), tokens::viewer(grantee)] {
        let listed = ask!(client.list_tokens(ListTokensRequest::default(), &bearer)).unwrap();
        assert!(listed.tokens.is_empty(), "{:?}", listed.tokens);
    }
    let as_own = ask!(client.get_token(token_request(token.id.clone()), &tokens::admin(grantee)))
        .unwrap_err();
    assert_eq!(as_own.code(), Code::NotFound);
    let service_list = ask!(client.list_tokens(
        ListTokensRequest {
            account_id: grantee.to_string(),
            ..Default::default()
        },
        &tokens::service(),
    ))
    .unwrap();
    assert!(service_list.tokens.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_is_made_only_for_a_token_of_the_imports_source_account() {
    let Scene {
        fixture,
        provider,
        mut client,
        partner,
        grantee: sibling,
    } = Scene::start().await;
    let grantee = fixture.account().await;
    let instance = Uuid::new_v4();
    let imports = tokens::service_as(Identity::Imports);
    let token = new_token(&mut client, partner, &provider.id).await;

    // An import from another account (a sibling, or the grantee itself) cannot hand out the
    // partner's token: to it the token does not exist (I15).
    for source in [sibling, grantee] {
        let refused = ask!(client.create_token_grant(
            grant_request(&token.id, source, grantee, instance),
            &imports
        ))
        .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{source}: {refused:?}");
    }
    let mut missing = grant_request(&token.id, partner, grantee, instance);
    missing.source_account_id = String::new();
    let missing = ask!(client.create_token_grant(missing, &imports)).unwrap_err();
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
    let to_grantee =
        ask!(client.list_token_grants(grants_to(grantee), &tokens::service())).unwrap();
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
    let made = ask!(client.create_token_grant(
        grant_request(&token.id, partner, grantee, instance),
        &imports
    ))
    .unwrap()
    .grant
    .unwrap();
    assert_eq!(made.grantee_account_id, grantee.to_string());
    assert_eq!(grants_of(&mut client, partner, &token.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_learns_which_tokens_a_data_source_may_name() {
    let Scene {
        fixture,
        provider,
        mut client,
        partner,
        grantee,
    } = Scene::start().await;
    let stranger = fixture.account().await;
    let instance = Uuid::new_v4();
    let token = new_token(&mut client, partner, &provider.id).await;
    let strangers_token = new_token(&mut client, stranger, &provider.id).await;
    ask!(client.create_token_grant(
        grant_request(&token.id, partner, grantee, instance),
        &tokens::service_as(Identity::Imports),
    ))
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
        let refused = ask!(client.check_data_source_auth(
            CheckDataSourceAuthRequest {
                account_id: partner.to_string(),
                data_source_id: String::new(),
                auth: Some(named(&token.id)),
                ..Default::default()
            },
            &bearer,
        ))
        .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_serves_only_the_query_it_was_made_for() {
    let Scene {
        fixture: _fixture,
        provider,
        mut client,
        partner,
        grantee,
    } = Scene::start().await;
    let instance = Uuid::new_v4();
    let token = new_token(&mut client, partner, &provider.id).await;
    let (imported, edited) = ("a1".repeat(32), "b2".repeat(32));
    let mut bound = grant_request(&token.id, partner, grantee, instance);
    bound.grant.as_mut().unwrap().request_fingerprint = imported.clone();
    let stored = ask!(client.create_token_grant(bound, &tokens::service_as(Identity::Imports)))
        .unwrap()
        .grant
        .unwrap();
    assert_eq!(stored.request_fingerprint, imported);

    let reader = client.clone();
    let access = |fingerprint: String| {
        let mut client = reader.clone();
        let token_id = token.id.clone();
        async move {
            ask!(client.get_access_token(
                GetAccessTokenRequest {
                    token_id,
                    account_id: grantee.to_string(),
                    data_source_id: instance.to_string(),
                    request_fingerprint: fingerprint,
                    ..Default::default()
                },
                &tokens::service_as(Identity::Refresh),
            ))
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
        let answer = ask!(client.check_data_source_auth(
            CheckDataSourceAuthRequest {
                account_id: grantee.to_string(),
                data_source_id: instance.to_string(),
                auth: Some(Auth::TokenId(token.id.clone())),
                request_fingerprint: fingerprint,
            },
            &tokens::service_as(Identity::Library),
        ))
        .unwrap();
        assert_eq!(answer.holding, AuthHolding::Borrowed as i32);
        assert_eq!(answer.serves_request, serves);
    }

    // An update that pushed the master's new query rebinds the grant.
    let mut rebound = grant_request(&token.id, partner, grantee, instance);
    rebound.request_id = "rebind".into();
    rebound.grant.as_mut().unwrap().request_fingerprint = edited.clone();
    ask!(client.create_token_grant(rebound, &tokens::service_as(Identity::Imports))).unwrap();
    assert!(access(edited).await.is_ok(), "the new query is served");
    let refused = access(imported).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}
