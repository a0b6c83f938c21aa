//! The authorization code flow (T1, I6): begin, the browser at a real provider, complete.

use diesel_async::RunQueryDsl;
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
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
    let begun = client
        .begin_authorization(call(
            BeginAuthorizationRequest {
                provider_id: provider.id.clone(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Marketing GA".into(),
                ..Default::default()
            },
            &tokens::editor(account),
        ))
        .await
        .unwrap()
        .into_inner();
    let url = url::Url::parse(&begun.authorization_url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "analytics.read profile");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["state"], begun.state);
    assert!(begun.expire_time.is_some());

    // The browser: the provider approves and redirects back with a code.
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    let completed = client
        .complete_authorization(call(
            CompleteAuthorizationRequest {
                request_id: "complete-1".into(),
                state: begun.state.clone(),
                code: redirect["code"].clone(),
                error: String::new(),
            },
            &tokens::editor(account),
        ))
        .await
        .unwrap()
        .into_inner();
    let token = completed.token.expect("a token");
    assert_eq!(token.account_id, account.to_string());
    assert_eq!(token.display_name, "Marketing GA");
    assert_eq!(token.external_user_id, "external-user-1");
    assert_eq!(token.external_user_name, "user1@example.test");
    assert_eq!(token.status, TokenStatus::Active as i32);
    assert!(token.expire_time.is_some());
    assert!(completed.warnings.is_empty(), "{:?}", completed.warnings);
    assert_eq!(fixture.oauth.counters().codes_exchanged, 1);

    // A retry of the same request returns the same token without another exchange.
    let retried = client
        .complete_authorization(call(
            CompleteAuthorizationRequest {
                request_id: "complete-1".into(),
                state: begun.state.clone(),
                code: redirect["code"].clone(),
                error: String::new(),
            },
            &tokens::editor(account),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.token.unwrap().id, token.id);
    assert_eq!(fixture.oauth.counters().codes_exchanged, 1);

    // The state was used: another completion with it is refused.
    let reused = client
        .complete_authorization(call(
            CompleteAuthorizationRequest {
                request_id: "complete-2".into(),
                state: begun.state,
                code: redirect["code"].clone(),
                error: String::new(),
            },
            &tokens::editor(account),
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition, "{reused:?}");
    assert!(details(&reused).precondition_failure().is_some());

    // The token serves a data source of its account, with an access token the provider
    // accepts.
    let access = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap();
    assert!(!access.refreshed);
    assert_eq!(access.token_type, "Bearer");
    assert_eq!(access.generation, 1);
    assert!(fixture.oauth.is_access_token_valid(&access.access_token));
    let fetched = reqwest::Client::new()
        .get(fixture.oauth.resource_url())
        .bearer_auth(&access.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);

    // Listed among the account's connected accounts (T1), and renamed.
    let listed = client
        .list_tokens(call(ListTokensRequest::default(), &tokens::viewer(account)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tokens.len(), 1);
    let renamed = client
        .update_token(call(
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
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap();
    assert_eq!(renamed.display_name, "Agency GA");
    assert_ne!(renamed.etag, listed.tokens[0].etag);
    let stale = client
        .update_token(call(
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
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Another account (its users are members there, not here) sees nothing of it.
    let hidden = client
        .get_token(call(
            GetTokenRequest {
                id: token.id.clone(),
                account_id: String::new(),
            },
            &tokens::admin(other),
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let foreign = client
        .list_tokens(call(
            ListTokensRequest {
                account_id: account.to_string(),
                ..Default::default()
            },
            &tokens::admin(other),
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn reauthorization_keeps_the_id_and_reaches_instances_through_grants() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let master_data_source = Uuid::new_v4();
    let instance = Uuid::new_v4();

    let token = authorize(&mut client, partner, &provider.id, None)
        .await
        .token
        .unwrap();
    client
        .create_token_grant(call(
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
        .await
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

    // Still one connected account in the partner, none in the client.
    let partner_tokens = client
        .list_tokens(call(ListTokensRequest::default(), &tokens::admin(partner)))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert_eq!(partner_tokens.len(), 1);
    let client_tokens = client
        .list_tokens(call(
            ListTokensRequest::default(),
            &tokens::admin(client_account),
        ))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert!(client_tokens.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn states_expire_are_bound_to_their_account_and_report_denials() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let other = fixture.account().await;
    let begin =
        |client: &mut trellis_proto::tokens::v1::token_service_client::TokenServiceClient<_>| {
            let mut client = client.clone();
            let provider_id = provider.id.clone();
            async move {
                client
                    .begin_authorization(call(
                        BeginAuthorizationRequest {
                            provider_id,
                            redirect_uri: REDIRECT_URI.into(),
                            ..Default::default()
                        },
                        &tokens::admin(account),
                    ))
                    .await
                    .unwrap()
                    .into_inner()
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
    let stolen = client
        .complete_authorization(call(
            complete(begun.state.clone(), redirect["code"].clone(), String::new()),
            &tokens::admin(other),
        ))
        .await
        .unwrap_err();
    assert_eq!(stolen.code(), Code::PermissionDenied);
    client
        .complete_authorization(call(
            complete(begun.state.clone(), redirect["code"].clone(), String::new()),
            &tokens::admin(account),
        ))
        .await
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
    let expired = client
        .complete_authorization(call(
            complete(begun.state.clone(), redirect["code"].clone(), String::new()),
            &tokens::admin(account),
        ))
        .await
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
    let denied = client
        .complete_authorization(call(
            complete(begun.state, String::new(), redirect["error"].clone()),
            &tokens::admin(account),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::FailedPrecondition);
    assert!(denied.message().contains("access_denied"));

    // A code the provider refuses (here: a made-up one) fails cleanly, not INTERNAL.
    let begun = begin(&mut client).await;
    let refused = client
        .complete_authorization(call(
            complete(begun.state, "not-a-code".into(), String::new()),
            &tokens::admin(account),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("invalid_grant"));
    assert_eq!(fixture.oauth.counters().codes_exchanged, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_details() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let admin = tokens::admin(account);

    // Providers: service only, and checked field by field.
    let by_user = client
        .create_provider(call(CreateProviderRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(by_user.code(), Code::PermissionDenied);
    let bad = client
        .create_provider(call(
            CreateProviderRequest {
                request_id: String::new(),
                provider: Some(Provider {
                    name: String::new(),
                    authorization_url: "not a url".into(),
                    token_url: "ftp://example.test/token".into(),
                    client_id: "id".into(),
                    scopes: vec!["two words".into()],
                    max_tokens_per_user: 5,
                    warn_tokens_per_user: 9,
                    token_limit: Some(ApiLimit {
                        requests_per_period: 3,
                        period: None,
                        max_concurrent: -1,
                    }),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = details(&bad)
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    for field in [
        "provider.name",
        "provider.authorization_url",
        "provider.token_url",
        "provider.scopes[0]",
        "provider.warn_tokens_per_user",
        "provider.token_limit.period",
        "provider.token_limit.max_concurrent",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let unknown = client
        .get_provider(call(
            GetProviderRequest {
                id: Uuid::new_v4().to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_provider(call(GetProviderRequest { id: "x".into() }, &admin))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    // Begin: unknown provider, bad redirect, viewers, someone else's token.
    let begin = |provider_id: &str, redirect_uri: &str, token_id: &str| BeginAuthorizationRequest {
        provider_id: provider_id.into(),
        redirect_uri: redirect_uri.into(),
        token_id: token_id.into(),
        ..Default::default()
    };
    let cases = [
        (
            begin(&Uuid::new_v4().to_string(), REDIRECT_URI, ""),
            Code::NotFound,
        ),
        (
            begin(&provider.id, "javascript:alert(1)", ""),
            Code::InvalidArgument,
        ),
        (begin(&provider.id, "", ""), Code::InvalidArgument),
        (begin("", REDIRECT_URI, ""), Code::InvalidArgument),
        (
            begin(&provider.id, REDIRECT_URI, &Uuid::new_v4().to_string()),
            Code::NotFound,
        ),
    ];
    for (request, expected) in cases {
        let status = client
            .begin_authorization(call(request.clone(), &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), expected, "{request:?}: {status:?}");
        assert!(details(&status).error_info().is_some());
    }
    let viewer = client
        .begin_authorization(call(
            begin(&provider.id, REDIRECT_URI, ""),
            &tokens::viewer(account),
        ))
        .await
        .unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    let empty_state = client
        .complete_authorization(call(CompleteAuthorizationRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(empty_state.code(), Code::InvalidArgument);

    // GetAccessToken: the refresh service only (not a member, an operator or the import
    // service), and for the owner's data sources or grants only.
    let token = authorize(&mut client, account, &provider.id, None)
        .await
        .token
        .unwrap();
    for bearer in [
        admin.clone(),
        tokens::service(),
        tokens::service_as(Identity::Imports),
    ] {
        let refused = client
            .get_access_token(call(
                GetAccessTokenRequest {
                    token_id: token.id.clone(),
                    account_id: account.to_string(),
                    data_source_id: Uuid::new_v4().to_string(),
                    ..Default::default()
                },
                &bearer,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    let stranger = access_token(&mut client, &token.id, Uuid::new_v4(), Uuid::new_v4(), 0)
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::PermissionDenied);
    let unknown_token = access_token(
        &mut client,
        &Uuid::new_v4().to_string(),
        account,
        Uuid::new_v4(),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown_token.code(), Code::NotFound);
    let future = access_token(&mut client, &token.id, account, Uuid::new_v4(), 99)
        .await
        .unwrap_err();
    assert_eq!(future.code(), Code::InvalidArgument);
    let garbage = client
        .get_access_token(call(
            GetAccessTokenRequest::default(),
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument);
    assert_eq!(
        details(&garbage)
            .bad_request()
            .unwrap()
            .field_violations
            .len(),
        3
    );

    // Limits for the refresh service (F5), and for it alone.
    let limits_request = GetTokenLimitsRequest {
        token_id: token.id.clone(),
        rate_limit_key: "ga:123".into(),
    };
    let by_operator = client
        .get_token_limits(call(limits_request.clone(), &tokens::service()))
        .await
        .unwrap_err();
    assert_eq!(by_operator.code(), Code::PermissionDenied);
    let limits = client
        .get_token_limits(call(limits_request, &tokens::service_as(Identity::Refresh)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limits.provider_id, provider.id);
    assert_eq!(limits.token_limit.unwrap().requests_per_period, 10);
    assert_eq!(limits.rate_limit_key_limit.unwrap().max_concurrent, 10);

    // Deleting a provider while tokens exist is a failed precondition.
    let in_use = client
        .delete_provider(call(
            DeleteProviderRequest {
                id: provider.id.clone(),
                ..Default::default()
            },
            &tokens::service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    // Updating a provider: a bad mask path is named; a good update moves the etag.
    let bad_mask = client
        .update_provider(call(
            UpdateProviderRequest {
                request_id: String::new(),
                provider: Some(Provider {
                    id: provider.id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["id".into()],
                }),
            },
            &tokens::service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_mask.code(), Code::InvalidArgument);
    let updated = client
        .update_provider(call(
            UpdateProviderRequest {
                request_id: String::new(),
                provider: Some(Provider {
                    id: provider.id.clone(),
                    name: "Renamed Analytics".into(),
                    etag: provider.etag.clone(),
                    ..Default::default()
                }),
                update_mask: None,
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner()
        .provider
        .unwrap();
    assert_eq!(updated.name, "Renamed Analytics");
    assert_eq!(updated.token_url, provider.token_url);
    assert!(updated.has_client_secret);
    assert_ne!(updated.etag, provider.etag);
}
