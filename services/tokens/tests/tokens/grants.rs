//! Token grants (I6): one data source of another account uses a token; the token is not
//! that account's connected account (T1).

use tonic::Code;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

fn grant(token_id: &str, grantee: Uuid, data_source: Uuid) -> CreateTokenGrantRequest {
    CreateTokenGrantRequest {
        request_id: format!("grant-{data_source}"),
        grant: Some(TokenGrant {
            token_id: token_id.to_owned(),
            grantee_account_id: grantee.to_string(),
            data_source_id: data_source.to_string(),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_serves_exactly_its_data_source_and_is_never_a_connected_account() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = Uuid::new_v4();
    let grantee = Uuid::new_v4();
    let instance = Uuid::new_v4();
    let other_data_source = Uuid::new_v4();
    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();

    // Only a service (the import service) grants.
    let by_admin = client
        .create_token_grant(call(
            grant(&token.id, grantee, instance),
            &tokens::admin(partner),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_admin.code(), Code::PermissionDenied);
    let created = client
        .create_token_grant(call(
            grant(&token.id, grantee, instance),
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    // Idempotent on (token, data source) even under another request id.
    let mut again = grant(&token.id, grantee, instance);
    again.request_id = "another-id".into();
    let same = client
        .create_token_grant(call(again, &tokens::service()))
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
    let of_token = client
        .list_token_grants(call(
            ListTokenGrantsRequest {
                token_id: token.id.clone(),
                ..Default::default()
            },
            &tokens::viewer(partner),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_token.grants.len(), 1);
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
            grant(&token.id, partner, Uuid::new_v4()),
            &tokens::service(),
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
