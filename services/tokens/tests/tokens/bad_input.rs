//! Bad input is refused with details: providers checked field by field, authorizations
//! begun and completed only with what they need, access tokens and limits for the refresh
//! service alone.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn providers_are_checked_field_by_field_and_kept_while_tokens_use_them() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let admin = tokens::admin(account);
    // Providers: service only, and checked field by field.
    let by_user =
        ask!(client.create_provider(CreateProviderRequest::default(), &admin)).unwrap_err();
    assert_eq!(by_user.code(), Code::PermissionDenied);
    let bad = ask!(client.create_provider(
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
                    additional_rates: Vec::new(),
                }),
                ..Default::default()
            }),
        },
        &tokens::service(),
    ))
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
    let unknown = ask!(client.get_provider(
        GetProviderRequest {
            id: Uuid::new_v4().to_string(),
        },
        &admin,
    ))
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed =
        ask!(client.get_provider(GetProviderRequest { id: "x".into() }, &admin)).unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    // A token of the provider keeps it.
    new_token(&mut client, account, &provider.id).await;

    // Deleting a provider while tokens exist is a failed precondition.
    let in_use = ask!(client.delete_provider(
        DeleteProviderRequest {
            id: provider.id.clone(),
            ..Default::default()
        },
        &tokens::service(),
    ))
    .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    provider_updates(&mut client, &provider).await;
}

/// Updating a provider: a bad mask path is named; a good update moves the etag.
async fn provider_updates(client: &mut Client, provider: &Provider) {
    // Updating a provider: a bad mask path is named; a good update moves the etag.
    let bad_mask = ask!(client.update_provider(
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
    .unwrap_err();
    assert_eq!(bad_mask.code(), Code::InvalidArgument);
    let updated = ask!(client.update_provider(
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
    .unwrap()
    .provider
    .unwrap();
    assert_eq!(updated.name, "Renamed Analytics");
    assert_eq!(updated.token_url, provider.token_url);
    assert!(updated.has_client_secret);
    assert_ne!(updated.etag, provider.etag);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorizations_begin_and_complete_only_with_what_they_need() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let admin = tokens::admin(account);
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
        let status = ask!(client.begin_authorization(request.clone(), &admin)).unwrap_err();
        assert_eq!(status.code(), expected, "{request:?}: {status:?}");
        assert!(details(&status).error_info().is_some());
    }
    let viewer = ask!(client.begin_authorization(
        begin(&provider.id, REDIRECT_URI, ""),
        &tokens::viewer(account),
    ))
    .unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    let empty_state =
        ask!(client.complete_authorization(CompleteAuthorizationRequest::default(), &admin))
            .unwrap_err();
    assert_eq!(empty_state.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_tokens_and_limits_are_for_the_refresh_service_alone() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let admin = tokens::admin(account);
    // GetAccessToken: the refresh service only (not a member, an operator or the import
    // service), and for the owner's data sources or grants only.
    let token = new_token(&mut client, account, &provider.id).await;
    for bearer in [
        admin.clone(),
        tokens::service(),
        tokens::service_as(Identity::Imports),
    ] {
        let refused = ask!(client.get_access_token(
            GetAccessTokenRequest {
                token_id: token.id.clone(),
                account_id: account.to_string(),
                data_source_id: Uuid::new_v4().to_string(),
                ..Default::default()
            },
            &bearer,
        ))
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
    let garbage = ask!(client.get_access_token(
        GetAccessTokenRequest::default(),
        &tokens::service_as(Identity::Refresh),
    ))
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
    let by_operator =
        ask!(client.get_token_limits(limits_request.clone(), &tokens::service())).unwrap_err();
    assert_eq!(by_operator.code(), Code::PermissionDenied);
    let limits =
        ask!(client.get_token_limits(limits_request, &tokens::service_as(Identity::Refresh)))
            .unwrap();
    assert_eq!(limits.provider_id, provider.id);
    assert_eq!(limits.token_limit.unwrap().requests_per_period, 10);
    assert_eq!(limits.rate_limit_key_limit.unwrap().max_concurrent, 10);
}
