//! Hostile input: NUL bytes, control characters and oversized lists in the text fields of
//! every kind of request are INVALID_ARGUMENT naming the field, never INTERNAL, and leave
//! nothing behind.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tonic::{Code, Status};
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;
use crate::credentials::basic;

/// A field that should be refused, and how a good request is spoiled there.
type Spoiled<T> = (&'static str, fn(&mut T));

/// Asserts `result` is INVALID_ARGUMENT with a violation of `field`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let status = result.expect_err(field);
    assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
    let fields: Vec<String> = details(&status)
        .bad_request()
        .expect("a BadRequest")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
}

fn provider(oauth: &OAuthServer) -> Provider {
    provider_at(oauth, "Hostile Analytics")
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_control_characters_and_long_lists_are_invalid_arguments() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let account = fixture.account().await;
    let admin = tokens::admin(account);
    let service = tokens::service();
    let mut client = fixture.client.clone();

    spoiled_providers(&mut client, &fixture.oauth, &service).await;
    let stored = fixture.provider(0, 0).await;
    spoiled_updates(&mut client, &stored, &service, &admin).await;

    let token = spoiled_authorizations(&mut client, &stored, account, &admin).await;

    spoiled_reads(&mut client, &token, account).await;

    spoiled_credentials(&mut client, &admin).await;

    // Nothing of it was stored.
    let providers = ask!(client.list_providers(ListProvidersRequest::default(), &admin))
        .expect("ListProviders")
        .providers;
    assert_eq!(providers.len(), 1, "{providers:?}");
    let credentials = ask!(client.list_credentials(ListCredentialsRequest::default(), &admin))
        .expect("ListCredentials")
        .credentials;
    assert!(credentials.is_empty());
    assert_eq!(
        get_token(&mut client, account, &token.id)
            .await
            .display_name,
        token.display_name
    );
}

/// CreateProvider, field by field.
async fn spoiled_providers(client: &mut Client, oauth: &OAuthServer, service: &str) {
    // CreateProvider, field by field.
    let cases: [Spoiled<Provider>; 14] = [
        ("provider.name", |p| p.name = "Hostile\0Analytics".into()),
        ("provider.client_id", |p| p.client_id.push('\0')),
        ("provider.client_secret", |p| p.client_secret.push('\u{7}')),
        ("provider.scopes[1]", |p| p.scopes[1] = "pro\0file".into()),
        ("provider.scopes", |p| p.scopes = vec!["s".into(); 10_000]),
        ("provider.authorization_url", |p| {
            p.authorization_url.push('\0')
        }),
        ("provider.token_url", |p| p.token_url.push_str("\0x")),
        ("provider.revocation_url", |p| {
            p.revocation_url.push('\u{1b}')
        }),
        ("provider.userinfo_url", |p| p.userinfo_url.push('\0')),
        ("provider.authorization_parameters[access_type]", |p| {
            p.authorization_parameters
                .insert("access_type".into(), "off\0line".into());
        }),
        ("provider.authorization_parameters", |p| {
            p.authorization_parameters
                .insert("prompt\0".into(), "consent".into());
        }),
        ("provider.authorization_parameters", |p| {
            p.authorization_parameters = (0..1000).map(|i| (format!("p{i}"), "v".into())).collect();
        }),
        ("provider.token_limit.period", |p| {
            p.token_limit = Some(ApiLimit {
                requests_per_period: 1,
                period: Some(prost_types::Duration {
                    seconds: i64::MAX,
                    nanos: 999_999_999,
                }),
                max_concurrent: 1,
                additional_rates: Vec::new(),
            });
        }),
        ("provider.rate_limit_key_limit.period", |p| {
            p.rate_limit_key_limit = Some(ApiLimit {
                requests_per_period: 1,
                period: Some(prost_types::Duration {
                    seconds: i64::MIN,
                    nanos: 0,
                }),
                max_concurrent: 1,
                additional_rates: Vec::new(),
            });
        }),
    ];
    for (field, spoil) in cases {
        let mut bad = provider(oauth);
        spoil(&mut bad);
        let answer = ask!(client.create_provider(
            CreateProviderRequest {
                request_id: String::new(),
                provider: Some(bad),
            },
            &service,
        ));
        refused(answer, field);
    }
}

/// UpdateProvider checks the merged provider and the new secret; ListProviders its page
/// token.
async fn spoiled_updates(client: &mut Client, stored: &Provider, service: &str, admin: &str) {
    for (field, given) in [
        (
            "provider.name",
            Provider {
                id: stored.id.clone(),
                name: "A\0B".into(),
                ..Default::default()
            },
        ),
        (
            "provider.client_secret",
            Provider {
                id: stored.id.clone(),
                client_secret: "s\0".into(),
                ..Default::default()
            },
        ),
    ] {
        let answer = ask!(client.update_provider(
            UpdateProviderRequest {
                provider: Some(given),
                ..Default::default()
            },
            &service,
        ));
        refused(answer, field);
    }
    // A page token that decodes to a name with a NUL byte.
    let token = URL_SAFE_NO_PAD.encode(format!("a\0b\u{1f}{}", Uuid::nil()));
    let answer = ask!(client.list_providers(
        ListProvidersRequest {
            page_size: 10,
            page_token: token,
        },
        &admin,
    ));
    refused(answer, "page_token");
}

/// The authorization flow, and the token it makes; answers that token.
async fn spoiled_authorizations(
    client: &mut Client,
    stored: &Provider,
    account: Uuid,
    admin: &str,
) -> Token {
    // The authorization flow.
    for (field, display_name, redirect_uri) in [
        ("display_name", "Marketing\0GA", REDIRECT_URI.to_owned()),
        ("redirect_uri", "Marketing GA", format!("{REDIRECT_URI}\0")),
    ] {
        let answer = ask!(client.begin_authorization(
            BeginAuthorizationRequest {
                provider_id: stored.id.clone(),
                redirect_uri,
                display_name: display_name.into(),
                ..Default::default()
            },
            &admin,
        ));
        refused(answer, field);
    }
    for (field, state, code) in [("state", "st\0te", "code"), ("code", "state", "co\u{0}de")] {
        let answer = ask!(client.complete_authorization(
            CompleteAuthorizationRequest {
                state: state.into(),
                code: code.into(),
                ..Default::default()
            },
            &admin,
        ));
        refused(answer, field);
    }
    let token = authorize(client, account, &stored.id, None)
        .await
        .token
        .expect("a token");
    let answer = ask!(client.update_token(
        UpdateTokenRequest {
            token: Some(Token {
                id: token.id.clone(),
                display_name: "GA\0".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &admin,
    ));
    refused(answer, "token.display_name");
    token
}

/// The refresh service's reads.
async fn spoiled_reads(client: &mut Client, token: &Token, account: Uuid) {
    // The refresh service's reads.
    let answer = ask!(client.get_token_limits(
        GetTokenLimitsRequest {
            token_id: token.id.clone(),
            rate_limit_key: "ga:\0".into(),
        },
        &tokens::service_as(Identity::Refresh),
    ));
    refused(answer, "rate_limit_key");
    let answer = ask!(client.get_access_token(
        GetAccessTokenRequest {
            token_id: token.id.clone(),
            account_id: account.to_string(),
            data_source_id: Uuid::new_v4().to_string(),
            request_fingerprint: "ab\0".into(),
            ..Default::default()
        },
        &tokens::service_as(Identity::Refresh),
    ));
    refused(answer, "request_fingerprint");
}

/// CreateCredential.
async fn spoiled_credentials(client: &mut Client, admin: &str) {
    // Credentials.
    let cases: [Spoiled<CreateCredentialRequest>; 4] = [
        ("credential.display_name", |r| {
            r.credential.as_mut().unwrap().display_name = "Zen\0desk".into()
        }),
        ("credential.username", |r| {
            r.credential.as_mut().unwrap().username = "agent\0".into()
        }),
        ("secret.password", |r| {
            r.secret.as_mut().unwrap().password = "pass\0word".into()
        }),
        ("credential.username", |r| {
            r.credential.as_mut().unwrap().username = "a".repeat(100_000)
        }),
    ];
    for (field, spoil) in cases {
        let mut request = basic("pw");
        spoil(&mut request);
        let answer = ask!(client.create_credential(request, &admin));
        refused(answer, field);
    }
}
