//! The authorization code flow (T1, I6): begin, the browser at a real provider, complete.

use diesel_async::RunQueryDsl;
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_stores_a_token_that_serves_its_data_sources() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    assert!(provider.has_client_secret);
    assert!(
        provider.client_secret.is_empty(),
        "the secret is input only"
    );
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let other = fixture.account().await;

    // Begin: a URL at the provider with PKCE, scopes and the extra parameters.
    let begun = ask!(client.begin_authorization(
        BeginAuthorizationRequest {
            provider_id: provider.id.clone(),
            redirect_uri: REDIRECT_URI.into(),
            display_name: "Marketing GA".into(),
            ..Default::default()
        },
        &tokens::editor(account),
    ))
    .unwrap();
    let url = url::Url::parse(&begun.authorization_url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "analytics.read profile");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["state"], begun.state);
    assert!(begun.expire_time.is_some());

    // The browser: the provider approves and redirects back with a code.
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    let completed = ask!(client.complete_authorization(
        completion("complete-1", &begun.state, &redirect["code"]),
        &tokens::editor(account),
    ))
    .unwrap();
    let token = completed.token.expect("a token");
    assert_eq!(token.account_id, account.to_string());
    assert_eq!(token.display_name, "Marketing GA");
    assert_eq!(token.external_user_id, "external-user-1");
    assert_eq!(token.external_user_name, "user1@example.test");
    assert_eq!(token.status, TokenStatus::Active as i32);
    assert!(token.expire_time.is_some());
    assert!(completed.warnings.is_empty(), "{:?}", completed.warnings);
    assert_eq!(fixture.oauth.counters().codes_exchanged, 1);

    retried_and_reused(
        &mut client,
        &fixture.oauth,
        account,
        (&begun.state, &redirect["code"]),
        &token,
    )
    .await;

    serves_its_account(&mut client, &fixture.oauth, account, &token).await;

    listed_and_renamed(&mut client, account, &token).await;

    hidden_from_others(&mut client, account, other, &token).await;
}

/// A retry of the completion answers the same token without another exchange; another
/// completion with the used state is refused.
async fn retried_and_reused(
    client: &mut Client,
    oauth: &OAuthServer,
    account: Uuid,
    (state, code): (&str, &str),
    token: &Token,
) {
    // A retry of the same request returns the same token without another exchange.
    let retried = ask!(client.complete_authorization(
        completion("complete-1", state, code),
        &tokens::editor(account),
    ))
    .unwrap();
    assert_eq!(retried.token.unwrap().id, token.id);
    assert_eq!(oauth.counters().codes_exchanged, 1);

    // The state was used: another completion with it is refused.
    let reused = ask!(client.complete_authorization(
        completion("complete-2", state, code),
        &tokens::editor(account),
    ))
    .unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition, "{reused:?}");
    assert!(details(&reused).precondition_failure().is_some());
}

/// The token serves a data source of its account, with an access token the provider
/// accepts.
async fn serves_its_account(
    client: &mut Client,
    oauth: &OAuthServer,
    account: Uuid,
    token: &Token,
) {
    // The token serves a data source of its account, with an access token the provider
    // accepts.
    let access = access_token(client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap();
    assert!(!access.refreshed);
    assert_eq!(access.token_type, "Bearer");
    assert_eq!(access.generation, 1);
    assert!(oauth.is_access_token_valid(&access.access_token));
    let fetched = reqwest::Client::new()
        .get(oauth.resource_url())
        .bearer_auth(&access.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
}

/// Listed among the account's connected accounts (T1), renamed under its etag.
async fn listed_and_renamed(client: &mut Client, account: Uuid, token: &Token) {
    // Listed among the account's connected accounts (T1), and renamed.
    let listed =
        ask!(client.list_tokens(ListTokensRequest::default(), &tokens::viewer(account))).unwrap();
    assert_eq!(listed.tokens.len(), 1);
    let renamed = ask!(client.update_token(
        UpdateTokenRequest {
            request_id: String::new(),
            token: Some(Token {
                id: token.id.clone(),
                display_name: "Agency GA".into(),
                etag: listed.tokens[0].etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        },
        &tokens::editor(account),
    ))
    .unwrap()
    .token
    .unwrap();
    assert_eq!(renamed.display_name, "Agency GA");
    assert_ne!(renamed.etag, listed.tokens[0].etag);
    let stale = ask!(client.update_token(
        UpdateTokenRequest {
            request_id: String::new(),
            token: Some(Token {
                id: token.id.clone(),
                display_name: "Stale".into(),
                etag: listed.tokens[0].etag.clone(),
                ..Default::default()
            }),
            update_mask: None,
        },
        &tokens::editor(account),
    ))
    .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

/// Another account (its users are members there, not here) sees nothing of the token.
async fn hidden_from_others(client: &mut Client, account: Uuid, other: Uuid, token: &Token) {
    // Another account (its users are members there, not here) sees nothing of it.
    let hidden =
        ask!(client.get_token(token_request(token.id.clone()), &tokens::admin(other))).unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let foreign = ask!(client.list_tokens(
        ListTokensRequest {
            account_id: account.to_string(),
            ..Default::default()
        },
        &tokens::admin(other),
    ))
    .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn reauthorization_keeps_the_id_and_reaches_instances_through_grants() {
    let Scene {
        fixture,
        provider,
        mut client,
        partner,
        grantee: client_account,
    } = Scene::start().await;
    let master_data_source = Uuid::new_v4();
    let instance = Uuid::new_v4();

    let token = new_token(&mut client, partner, &provider.id).await;
    ask!(client.create_token_grant(
        CreateTokenGrantRequest {
            request_id: "import-1/grant".into(),
            grant: Some(TokenGrant {
                token_id: token.id.clone(),
                grantee_account_id: client_account.to_string(),
                data_source_id: instance.to_string(),
                ..Default::default()
            }),
            source_account_id: partner.to_string(),
        },
        &tokens::service_as(Identity::Imports),
    ))
    .unwrap();
    let before = access_token(&mut client, &token.id, client_account, instance, 0)
        .await
        .unwrap();

    // The provider has dropped the token (say, the user revoked access there); refreshes
    // fail and the token needs re-authorization.
    fixture.oauth.fail_next_token_requests(1, "invalid_grant");
    let dead = access_token(
        &mut client,
        &token.id,
        partner,
        master_data_source,
        before.generation,
    )
    .await
    .unwrap_err();
    assert_eq!(dead.code(), Code::FailedPrecondition, "{dead:?}");
    let status = get_token(&mut client, partner, &token.id).await;
    assert_eq!(status.status, TokenStatus::NeedsReauthorization as i32);
    let instance_dead = access_token(&mut client, &token.id, client_account, instance, 0)
        .await
        .unwrap_err();
    assert_eq!(instance_dead.code(), Code::FailedPrecondition);

    // Re-authorize in the partner: same id, new secrets (I6).
    let again = authorize(&mut client, partner, "", Some(&token.id)).await;
    let reauthorized = again.token.unwrap();
    assert_eq!(
        reauthorized.id, token.id,
        "re-authorization keeps the token's id"
    );
    assert_eq!(reauthorized.status, TokenStatus::Active as i32);
    assert_eq!(reauthorized.display_name, token.display_name);
    assert_eq!(fixture.oauth.counters().codes_exchanged, 2);

    // The client's instance gets the new access token at once, through its grant.
    let after = access_token(&mut client, &token.id, client_account, instance, 0)
        .await
        .unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert!(after.generation > before.generation);
    assert!(fixture.oauth.is_access_token_valid(&after.access_token));
    let master = access_token(&mut client, &token.id, partner, master_data_source, 0)
        .await
        .unwrap();
    assert_eq!(
        master.access_token, after.access_token,
        "master and instance share it"
    );

    one_connected_account(&mut client, partner, client_account).await;
}

/// Still one connected account in the partner, none in the client.
async fn one_connected_account(client: &mut Client, partner: Uuid, client_account: Uuid) {
    // Still one connected account in the partner, none in the client.
    let partner_tokens =
        ask!(client.list_tokens(ListTokensRequest::default(), &tokens::admin(partner)))
            .unwrap()
            .tokens;
    assert_eq!(partner_tokens.len(), 1);
    let client_tokens =
        ask!(client.list_tokens(ListTokensRequest::default(), &tokens::admin(client_account)))
            .unwrap()
            .tokens;
    assert!(client_tokens.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn states_expire_are_bound_to_their_account_and_report_denials() {
    let Scene {
        fixture,
        provider,
        mut client,
        partner: account,
        grantee: other,
    } = Scene::start().await;
    let begin =
        |client: &mut trellis_proto::tokens::v1::token_service_client::TokenServiceClient<_>| {
            let mut client = client.clone();
            let provider_id = provider.id.clone();
            async move {
                ask!(client.begin_authorization(
                    BeginAuthorizationRequest {
                        provider_id,
                        redirect_uri: REDIRECT_URI.into(),
                        ..Default::default()
                    },
                    &tokens::admin(account),
                ))
                .unwrap()
            }
        };

    // Another account cannot complete it; the state stays usable by its own.
    let begun = begin(&mut client).await;
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    let complete = |state: String, code: String, error: String| CompleteAuthorizationRequest {
        request_id: String::new(),
        state,
        code,
        error,
    };
    let stolen = ask!(client.complete_authorization(
        complete(begun.state.clone(), redirect["code"].clone(), String::new()),
        &tokens::admin(other),
    ))
    .unwrap_err();
    assert_eq!(stolen.code(), Code::PermissionDenied);
    ask!(client.complete_authorization(
        complete(begun.state.clone(), redirect["code"].clone(), String::new()),
        &tokens::admin(account),
    ))
    .expect("its own account completes it");

    // An expired state is refused (and used up).
    let begun = begin(&mut client).await;
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    let mut conn = fixture.database.connect().await;
    diesel::sql_query(
        "UPDATE pending_authorizations SET expire_time = now() - interval '1 second'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let expired = ask!(client.complete_authorization(
        complete(begun.state.clone(), redirect["code"].clone(), String::new()),
        &tokens::admin(account),
    ))
    .unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition);
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );

    // The user declines at the provider: the redirect carries an error.
    let begun = begin(&mut client).await;
    fixture.oauth.deny_next_authorization("access_denied");
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    assert_eq!(redirect["error"], "access_denied");
    let denied = ask!(client.complete_authorization(
        complete(begun.state, String::new(), redirect["error"].clone()),
        &tokens::admin(account),
    ))
    .unwrap_err();
    assert_eq!(denied.code(), Code::FailedPrecondition);
    assert!(denied.message().contains("access_denied"));

    // A code the provider refuses (here: a made-up one) fails cleanly, not INTERNAL.
    let begun = begin(&mut client).await;
    let refused = ask!(client.complete_authorization(
        complete(begun.state, "not-a-code".into(), String::new()),
        &tokens::admin(account),
    ))
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("invalid_grant"));
    assert_eq!(fixture.oauth.counters().codes_exchanged, 1);
}
