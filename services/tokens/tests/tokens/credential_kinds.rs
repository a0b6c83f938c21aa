//! Credentials of the kinds beyond BASIC and API_KEY (LOGIN, CLIENT_CREDENTIALS, SIGNED, an
//! API key in the body) and a credential's limit (F5): stored, checked, read without their
//! secret, handed with it to the refresh service alone, copied and updated (`updates`).

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;
use crate::credentials::{create, credentials_of, secret_request};

fn seconds(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

/// 10 a second, 2 at once and 5,000 a day.
fn limit() -> ApiLimit {
    ApiLimit {
        requests_per_period: 10,
        period: seconds(1),
        max_concurrent: 2,
        additional_rates: vec![ApiRate {
            requests: 5000,
            period: seconds(86_400),
        }],
    }
}

fn request(credential: Credential, secret: CredentialSecret) -> CreateCredentialRequest {
    CreateCredentialRequest {
        request_id: String::new(),
        credential: Some(credential),
        secret: Some(secret),
    }
}

fn login_flow() -> LoginFlow {
    LoginFlow {
        url: "https://api.example.test/v2/login".into(),
        body: r#"{"user":"{username}","pass":"{password}"}"#.into(),
        content_type: "application/json".into(),
        token_path: "data/session/token".into(),
        expires_in_path: "data/session/expires_in".into(),
        token_ttl: seconds(7200),
        header_name: "X-Session".into(),
        header_prefix: String::new(),
    }
}

pub fn login(password: &str) -> CreateCredentialRequest {
    let credential = Credential {
        display_name: "Reporting login".into(),
        kind: CredentialKind::Login as i32,
        username: "agency@example.test".into(),
        login: Some(login_flow()),
        limit: Some(limit()),
        ..Default::default()
    };
    request(
        credential,
        CredentialSecret {
            password: password.into(),
            ..Default::default()
        },
    )
}

pub fn client_credentials(client_secret: &str) -> CreateCredentialRequest {
    let credential = Credential {
        display_name: "Ads API app".into(),
        kind: CredentialKind::ClientCredentials as i32,
        client_credentials: Some(ClientCredentialsFlow {
            token_url: "http://127.0.0.1:9/oauth/token".into(),
            client_id: "trellis-reporting".into(),
            scopes: vec!["reports.read".into(), "accounts.read".into()],
            credentials_in_body: true,
        }),
        ..Default::default()
    };
    request(
        credential,
        CredentialSecret {
            client_secret: client_secret.into(),
            ..Default::default()
        },
    )
}

fn signing() -> SigningScheme {
    SigningScheme {
        algorithm: SigningAlgorithm::HmacSha1 as i32,
        string_to_sign: "{method}\\n{path}\\n{query}\\n{timestamp}\\n{body_sha256}".into(),
        encoding: SignatureEncoding::Base64 as i32,
        signature_header: "X-Signature".into(),
        signature_prefix: "HMAC ".into(),
        timestamp_parameter: "ts".into(),
        timestamp_format: TimestampFormat::EpochMillis as i32,
        key_id_header: "X-Key-Id".into(),
        ..Default::default()
    }
}

pub fn signed(signing_key: &str) -> CreateCredentialRequest {
    let credential = Credential {
        display_name: "Partner feed".into(),
        kind: CredentialKind::Signed as i32,
        username: "key-17".into(),
        signing: Some(signing()),
        limit: Some(limit()),
        ..Default::default()
    };
    request(
        credential,
        CredentialSecret {
            signing_key: signing_key.into(),
            ..Default::default()
        },
    )
}

fn body_api_key(key: &str) -> CreateCredentialRequest {
    let credential = Credential {
        display_name: "Body key".into(),
        kind: CredentialKind::ApiKey as i32,
        api_key_placement: ApiKeyPlacement::Body as i32,
        api_key_name: "apiKey".into(),
        ..Default::default()
    };
    request(
        credential,
        CredentialSecret {
            api_key: key.into(),
            ..Default::default()
        },
    )
}

/// The secret fields of an answer, as (password, api_key, client_secret, signing_key).
fn secrets_of(answer: &GetCredentialSecretResponse) -> [&str; 4] {
    [
        &answer.password,
        &answer.api_key,
        &answer.client_secret,
        &answer.signing_key,
    ]
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// The credential's row as text.
async fn stored_row(fixture: &Fixture, id: &str) -> String {
    let mut conn = fixture.database.connect().await;
    let rows: Vec<Line> = diesel::sql_query(format!(
        "SELECT t::text AS line FROM credentials t WHERE id = '{}'",
        Uuid::parse_str(id).unwrap()
    ))
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "the row of {id}");
    rows[0].line.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_is_stored_and_its_secret_handed_to_the_refresh_service_alone() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let editor = tokens::editor(account);
    let refresh = tokens::service_as(Identity::Refresh);
    // Each kind with its secret and the field of GetCredentialSecret that carries it.
    let kinds = [
        (
            login as fn(&str) -> _,
            "login-pa55word-9f2c",
            0,
            CredentialKind::Login,
        ),
        (
            client_credentials,
            "cc-s3cret-7d41",
            2,
            CredentialKind::ClientCredentials,
        ),
        (signed, "sign-s3cret-key-55aa", 3, CredentialKind::Signed),
        (body_api_key, "body-api-key-31b0", 1, CredentialKind::ApiKey),
    ];
    for (make, secret, slot, kind) in kinds {
        let sent = make(secret);
        let given = sent.credential.clone().unwrap();
        let created = create(&mut client, sent, &editor).await;
        assert_eq!(created.kind, kind as i32);

        // Reads show the configuration and the limit, never the secret.
        let got = ask!(client.get_credential(
            GetCredentialRequest {
                id: created.id.clone(),
                account_id: String::new(),
            },
            &tokens::viewer(account),
        ))
        .unwrap()
        .credential
        .unwrap();
        let listed = credentials_of(&mut client, account).await;
        let listed = listed.iter().find(|c| c.id == created.id).unwrap();
        for read in [&created, &got, listed] {
            assert_eq!(read.login, given.login, "{kind:?}");
            assert_eq!(read.client_credentials, given.client_credentials);
            assert_eq!(read.signing, given.signing);
            assert_eq!(read.limit, given.limit);
            assert_eq!(read.api_key_placement, given.api_key_placement);
            assert!(!format!("{read:?}").contains(secret), "{kind:?}");
        }

        // The refresh service gets the secret in its kind's field, with the configuration.
        let answer = ask!(client.get_credential_secret(
            secret_request(&created.id, account, Uuid::new_v4()),
            &refresh,
        ))
        .unwrap();
        let mut expected = [""; 4];
        expected[slot] = secret;
        assert_eq!(secrets_of(&answer), expected, "{kind:?}");
        assert_eq!(answer.kind, kind as i32);
        assert_eq!(answer.username, given.username);
        assert_eq!(answer.login, given.login);
        assert_eq!(answer.client_credentials, given.client_credentials);
        assert_eq!(answer.signing, given.signing);
        assert_eq!(answer.limit, given.limit);
        assert_eq!(answer.limit_key, created.id);
        for bearer in [editor.clone(), tokens::service_as(Identity::Imports)] {
            let refused = ask!(client.get_credential_secret(
                secret_request(&created.id, account, Uuid::new_v4()),
                &bearer,
            ))
            .unwrap_err();
            assert_eq!(refused.code(), Code::PermissionDenied);
            assert!(!refused.message().contains(secret));
        }

        // At rest the secret is sealed; the configuration is stored as it is.
        let row = stored_row(&fixture, &created.id).await;
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(
            !row.contains(secret) && !row.contains(&hex),
            "{kind:?}: {row}"
        );
        if let Some(login) = &given.login {
            assert!(row.contains(&login.url), "{row}");
        }
        if let Some(signing) = &given.signing {
            assert!(row.contains(&signing.signature_header), "{row}");
        }
    }
}

/// The field violations of a refused call, checked to be INVALID_ARGUMENT.
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    details(status)
        .bad_request()
        .expect("field violations")
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

fn with(
    mut request: CreateCredentialRequest,
    spoil: impl FnOnce(&mut Credential),
) -> CreateCredentialRequest {
    spoil(request.credential.as_mut().unwrap());
    request
}

fn with_login(spoil: impl FnOnce(&mut LoginFlow)) -> CreateCredentialRequest {
    with(login("pw-1"), |c| spoil(c.login.as_mut().unwrap()))
}

fn with_signing(spoil: impl FnOnce(&mut SigningScheme)) -> CreateCredentialRequest {
    with(signed("sk-1"), |c| spoil(c.signing.as_mut().unwrap()))
}

/// The request with an empty secret.
fn without_secret(mut request: CreateCredentialRequest) -> CreateCredentialRequest {
    request.secret = Some(CredentialSecret::default());
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flows_and_secrets_are_refused_naming_the_field() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let cases = [
        ("credential.login", with(login("pw-1"), |c| c.login = None)),
        (
            "credential.signing",
            with(signed("sk-1"), |c| c.signing = None),
        ),
        (
            "credential.signing",
            with(login("pw-1"), |c| c.signing = Some(signing())),
        ),
        (
            "credential.signing.string_to_sign",
            with_signing(|s| s.string_to_sign = "{method}\\n{nonce}".into()),
        ),
        (
            "credential.signing.signature_parameter",
            with_signing(|s| s.signature_parameter = "sig".into()),
        ),
        (
            "credential.signing.signature_header",
            with_signing(|s| s.signature_header.clear()),
        ),
        (
            "credential.signing.key_id_header",
            with_signing(|s| s.key_id_header = "X Key Id".into()),
        ),
        (
            "credential.login.url",
            with_login(|l| l.url = "ftp://x.test/".into()),
        ),
        (
            "credential.login.token_ttl",
            with_login(|l| l.token_ttl = seconds(31 * 86_400)),
        ),
        (
            "credential.login.body",
            with_login(|l| l.body = r#"{"user":"{username}","pass":"hunter2"}"#.into()),
        ),
        (
            "credential.client_credentials.token_url",
            with(client_credentials("cs-1"), |c| {
                c.client_credentials.as_mut().unwrap().token_url = "/oauth/token".into()
            }),
        ),
        (
            "credential.limit.additional_rates[0].requests",
            with(signed("sk-1"), |c| {
                c.limit.as_mut().unwrap().additional_rates[0].requests = 0
            }),
        ),
        (
            "secret.client_secret",
            without_secret(client_credentials("cs-1")),
        ),
        ("secret.signing_key", without_secret(signed("sk-1"))),
        ("secret.password", without_secret(login("pw-1"))),
    ];
    for (field, request) in cases {
        let refused =
            ask!(client.create_credential(request, &tokens::editor(account))).unwrap_err();
        let found = violations(&refused);
        assert!(found.iter().any(|(f, _)| f == field), "{field}: {found:?}");
        if field.ends_with("string_to_sign") {
            let named = found.iter().any(|(_, d)| d.contains("{nonce}"));
            assert!(named, "{found:?}");
        }
    }
    assert!(credentials_of(&mut client, account).await.is_empty());
}

mod updates;
