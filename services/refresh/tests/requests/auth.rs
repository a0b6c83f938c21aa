//! Auth methods end to end: credentials saved in the token registry, a data source using
//! them, refreshed through the service, with the data API checking what it receives: an
//! API key in the body, a login (once, then again after the API ends the session), a
//! client-credentials grant, and signatures with SHA-256 and SHA-1 the server recomputes
//! (a wrong secret fails the refresh, the secret in no error).

use serde_json::json;
use trellis_proto::library::v1 as library;
use trellis_proto::tokens::v1::{self as tokens_pb, ApiKeyPlacement, CredentialKind};
use trellis_testkit::data_api::{
    Auth, ClientCredentialsEndpoint, DataApi, LoginEndpoint, SignatureCheck,
};

use super::world::{Setup, Source, setup};
use crate::common::*;

fn secret(fill: impl FnOnce(&mut tokens_pb::CredentialSecret)) -> tokens_pb::CredentialSecret {
    let mut secret = tokens_pb::CredentialSecret::default();
    fill(&mut secret);
    secret
}

async fn login_source(setup: &Setup, api: &DataApi, password: &str) -> uuid::Uuid {
    let auth = setup
        .credential(
            tokens_pb::Credential {
                kind: CredentialKind::Login as i32,
                username: "ann@agency".into(),
                login: Some(tokens_pb::LoginFlow {
                    url: api.url("/login"),
                    token_path: "data/token".into(),
                    expires_in_path: "data/expires_in".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            secret(|s| s.password = password.into()),
        )
        .await;
    setup
        .source(Source {
            url: api.url("/data"),
            auth,
            ..Default::default()
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_in_the_body_and_a_login_are_sent_as_the_api_expects() {
    let setup = setup(fast_settings()).await;

    let keyed = DataApi::start().await;
    keyed.require(Auth::ApiKeyBody {
        name: "api_key".into(),
        key: "body-key-1".into(),
    });
    keyed.set_json("/report", json!({"visits": 12}));
    let auth = setup
        .credential(
            tokens_pb::Credential {
                kind: CredentialKind::ApiKey as i32,
                api_key_placement: ApiKeyPlacement::Body as i32,
                api_key_name: "api_key".into(),
                ..Default::default()
            },
            secret(|s| s.api_key = "body-key-1".into()),
        )
        .await;
    let source = setup
        .source(Source {
            method: library::HttpMethod::Post,
            url: keyed.url("/report"),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: r#"{"range": "month"}"#.into(),
            auth,
            ..Default::default()
        })
        .await;
    let (data, _) = setup.refreshed(source).await;
    assert_eq!(data, json!({"visits": 12}));
    let sent: serde_json::Value = serde_json::from_str(&keyed.arrivals()[0].body).unwrap();
    assert_eq!(sent, json!({"range": "month", "api_key": "body-key-1"}));

    let api = DataApi::start().await;
    api.serve_login(
        "/login",
        LoginEndpoint {
            username: "ann@agency".into(),
            password: "pw-of-ann".into(),
            expires_in: 3600,
        },
    );
    api.require(Auth::Issued {
        header: "authorization".into(),
        prefix: "Bearer ".into(),
    });
    api.set_json("/data", json!(["row"]));
    let source = login_source(&setup, &api, "pw-of-ann").await;
    setup.refreshed(source).await;
    setup.refreshed(source).await;
    assert_eq!(api.requests_for("/login"), 1, "logged in once");
    let issued = api.issued();
    assert!(
        api.arrivals_for("/data")
            .iter()
            .all(|a| a.credential.as_deref() == Some(issued[0].as_str())),
        "both data requests carried the session token"
    );
    // The API ends the session: the next refresh logs in again.
    api.expire_issued();
    setup.refreshed(source).await;
    assert_eq!(api.requests_for("/login"), 2);
    let statuses: Vec<u16> = api.arrivals_for("/data").iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 401, 200]);

    let wrong = login_source(&setup, &api, "not-anns-password").await;
    let error = setup.refresh_fails(wrong).await;
    assert!(error.contains("logging in: HTTP 401"), "{error}");
    assert!(!error.contains("not-anns-password"), "{error}");
}

async fn cc_source(setup: &Setup, api: &DataApi, client_secret: &str) -> uuid::Uuid {
    let auth = setup
        .credential(
            tokens_pb::Credential {
                kind: CredentialKind::ClientCredentials as i32,
                client_credentials: Some(tokens_pb::ClientCredentialsFlow {
                    token_url: api.url("/oauth/token"),
                    client_id: "agency-app".into(),
                    scopes: vec!["reports".into()],
                    credentials_in_body: false,
                }),
                ..Default::default()
            },
            secret(|s| s.client_secret = client_secret.into()),
        )
        .await;
    setup
        .source(Source {
            url: api.url("/metrics"),
            auth,
            ..Default::default()
        })
        .await
}

async fn signed_source(
    setup: &Setup,
    api: &DataApi,
    scheme: &tokens_pb::SigningScheme,
    key: &str,
) -> uuid::Uuid {
    let auth = setup
        .credential(
            tokens_pb::Credential {
                kind: CredentialKind::Signed as i32,
                username: "key-42".into(),
                signing: Some(scheme.clone()),
                ..Default::default()
            },
            secret(|s| s.signing_key = key.into()),
        )
        .await;
    setup
        .source(Source {
            url: api.url("/orders?status=open"),
            auth,
            ..Default::default()
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_are_granted_and_the_token_sent() {
    let setup = setup(fast_settings()).await;
    let api = &setup.world.api;
    api.serve_client_credentials(
        "/oauth/token",
        ClientCredentialsEndpoint {
            client_id: "agency-app".into(),
            client_secret: "cc-secret-1".into(),
            scope: Some("reports".into()),
            expires_in: 3600,
        },
    );
    api.require(Auth::Issued {
        header: "authorization".into(),
        prefix: "Bearer ".into(),
    });
    api.set_json("/metrics", json!({"spend": 3}));
    let source = cc_source(&setup, api, "cc-secret-1").await;
    let (data, _) = setup.refreshed(source).await;
    assert_eq!(data, json!({"spend": 3}));
    let grant = &api.arrivals_for("/oauth/token")[0];
    assert_eq!(grant.status, 200);
    assert!(
        grant.body.contains("grant_type=client_credentials"),
        "{}",
        grant.body
    );
    assert_eq!(api.arrivals_for("/metrics")[0].status, 200);

    let wrong = cc_source(&setup, api, "not-the-cc-secret").await;
    let error = setup.refresh_fails(wrong).await;
    assert!(
        error.contains("client-credentials token: HTTP 401"),
        "{error}"
    );
    assert!(!error.contains("not-the-cc-secret"), "{error}");
}

fn schemes() -> [tokens_pb::SigningScheme; 2] {
    [
        tokens_pb::SigningScheme {
            algorithm: tokens_pb::SigningAlgorithm::HmacSha256 as i32,
            string_to_sign: "{method}\\n{path}\\n{query}\\n{timestamp}\\n{body_sha256}".into(),
            encoding: tokens_pb::SignatureEncoding::Hex as i32,
            signature_header: "X-Signature".into(),
            signature_prefix: "HMAC-SHA256 ".into(),
            timestamp_header: "X-Timestamp".into(),
            key_id_header: "X-Key-Id".into(),
            ..Default::default()
        },
        tokens_pb::SigningScheme {
            algorithm: tokens_pb::SigningAlgorithm::HmacSha1 as i32,
            encoding: tokens_pb::SignatureEncoding::Base64 as i32,
            signature_parameter: "signature".into(),
            timestamp_parameter: "ts".into(),
            timestamp_format: tokens_pb::TimestampFormat::Rfc3339 as i32,
            key_id_parameter: "key".into(),
            ..Default::default()
        },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_requests_with_sha256_and_sha1_are_recomputed_by_the_server() {
    let setup = setup(fast_settings()).await;
    for scheme in schemes() {
        let api = DataApi::start().await;
        api.require(Auth::Signed(SignatureCheck {
            scheme: scheme.clone(),
            key_id: "key-42".into(),
            secret: "shared-signing-secret".into(),
        }));
        api.set_json("/orders", json!({"orders": ["o1"]}));
        let source = signed_source(&setup, &api, &scheme, "shared-signing-secret").await;
        let (data, _) = setup.refreshed(source).await;
        assert_eq!(data, json!({"orders": ["o1"]}));

        let wrong = signed_source(&setup, &api, &scheme, "a-wrong-signing-secret").await;
        let error = setup.refresh_fails(wrong).await;
        assert!(error.contains("HTTP 401"), "{error}");
        assert!(!error.contains("a-wrong-signing-secret"), "{error}");
        let statuses: Vec<u16> = api.arrivals().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 401], "the server checked both");
    }
}
