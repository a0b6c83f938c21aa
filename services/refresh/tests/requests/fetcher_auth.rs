//! The fetcher on its own against the data API, for each auth method the token registry
//! can hand it (read through `fetch::convert` as the worker reads them): an API key in the
//! body, a login whose token is kept until the API refuses it, a client-credentials grant,
//! and requests signed with SHA-256 and SHA-1 that the server recomputes, every page of a
//! paginated one included. No message carries a secret.

use serde_json::json;
use trellis_proto::tokens::v1::{
    self as tokens, ApiKeyPlacement, CredentialKind, GetCredentialSecretResponse,
};
use trellis_refresh::domain::job::DataFormat;
use trellis_refresh::fetch::convert::credentials_of;
use trellis_refresh::fetch::{Credentials, Fetcher, HttpRequest, NoGate, Style};
use trellis_testkit::data_api::{
    Auth, ClientCredentialsEndpoint, DataApi, LoginEndpoint, Reply, SignatureCheck,
};

use super::fetcher::{failure, fetched, get, paging, settings};

fn credentials(secret: GetCredentialSecretResponse) -> Credentials {
    credentials_of("credential-1", &secret).unwrap()
}

#[tokio::test]
async fn an_api_key_goes_into_a_json_body_or_a_form() {
    let api = DataApi::start().await;
    api.require(Auth::ApiKeyBody {
        name: "api_key".into(),
        key: "k&ey+1".into(),
    });
    api.set_json("/report", json!({"ok": true}));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let key = credentials(GetCredentialSecretResponse {
        kind: CredentialKind::ApiKey as i32,
        api_key_placement: ApiKeyPlacement::Body as i32,
        api_key_name: "api_key".into(),
        api_key: "k&ey+1".into(),
        ..Default::default()
    });
    let json_body = HttpRequest {
        method: reqwest::Method::POST,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: r#"{"range": "last_30_days"}"#.into(),
        ..get(api.url("/report"), DataFormat::Json)
    };
    fetched(fetcher.fetch(&json_body, &key).await);
    let empty = HttpRequest {
        method: reqwest::Method::POST,
        ..get(api.url("/report"), DataFormat::Json)
    };
    fetched(fetcher.fetch(&empty, &key).await);
    let arrivals = api.arrivals();
    assert!(arrivals.iter().all(|a| a.status == 200), "{arrivals:?}");
    let sent: serde_json::Value = serde_json::from_str(&arrivals[0].body).unwrap();
    assert_eq!(sent, json!({"range": "last_30_days", "api_key": "k&ey+1"}));
    assert_eq!(arrivals[1].body, "api_key=k%26ey%2B1");
    assert!(arrivals[1].headers.contains(&(
        "content-type".into(),
        "application/x-www-form-urlencoded".into()
    )));
}

fn login_secret(url: String, password: &str) -> GetCredentialSecretResponse {
    GetCredentialSecretResponse {
        kind: CredentialKind::Login as i32,
        username: "ann@agency".into(),
        password: password.into(),
        login: Some(tokens::LoginFlow {
            url,
            token_path: "data/token".into(),
            expires_in_path: "data/expires_in".into(),
            header_name: "X-Session".into(),
            header_prefix: "Token ".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_login_token_is_kept_and_renewed_once_the_api_refuses_it() {
    let api = DataApi::start().await;
    let password = r#"pa"ss&w0rd"#;
    api.serve_login(
        "/login",
        LoginEndpoint {
            username: "ann@agency".into(),
            password: password.into(),
            expires_in: 3600,
        },
    );
    api.require(Auth::Issued {
        header: "x-session".into(),
        prefix: "Token ".into(),
    });
    api.set_json("/data", json!([1, 2]));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let login = credentials(login_secret(api.url("/login"), password));
    let request = get(api.url("/data"), DataFormat::Json);
    fetched(fetcher.fetch(&request, &login).await);
    fetched(fetcher.fetch(&request, &login).await);
    assert_eq!(api.requests_for("/login"), 1, "the session token is kept");
    let issued = api.issued();
    let sent = api.arrivals_for("/data");
    assert!(
        sent.iter()
            .all(|a| a.credential.as_deref() == Some(issued[0].as_str()))
    );
    let login_request = &api.arrivals_for("/login")[0];
    assert_eq!(login_request.method, "POST");
    let body: serde_json::Value = serde_json::from_str(&login_request.body).unwrap();
    assert_eq!(
        body,
        json!({"username": "ann@agency", "password": password})
    );

    // The API ends the session: the next fetch is refused once, logs in again, and fetches.
    api.expire_issued();
    fetched(fetcher.fetch(&request, &login).await);
    assert_eq!(api.requests_for("/login"), 2);
    let statuses: Vec<u16> = api.arrivals_for("/data").iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 401, 200]);

    // A wrong password fails, saying so without the password.
    let wrong = credentials(login_secret(api.url("/login"), "hunter2-wrong"));
    let error = failure(fetcher.fetch(&request, &wrong).await);
    assert!(error.contains("logging in: HTTP 401"), "{error}");
    assert!(!error.contains("hunter2-wrong"), "{error}");
}

fn client_secret(url: String, secret: &str, in_body: bool) -> GetCredentialSecretResponse {
    GetCredentialSecretResponse {
        kind: CredentialKind::ClientCredentials as i32,
        client_credentials: Some(tokens::ClientCredentialsFlow {
            token_url: url,
            client_id: "agency-app".into(),
            scopes: vec!["read".into(), "reports".into()],
            credentials_in_body: in_body,
        }),
        client_secret: secret.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn client_credentials_are_exchanged_for_a_kept_bearer_token() {
    let api = DataApi::start().await;
    let secret = "s3cret/+=";
    api.serve_client_credentials(
        "/oauth/token",
        ClientCredentialsEndpoint {
            client_id: "agency-app".into(),
            client_secret: secret.into(),
            scope: Some("read reports".into()),
            expires_in: 3600,
        },
    );
    api.require(Auth::Issued {
        header: "authorization".into(),
        prefix: "Bearer ".into(),
    });
    api.set_json("/data", json!({"rows": []}));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let request = get(api.url("/data"), DataFormat::Json);
    for in_body in [false, true] {
        let grant = credentials(client_secret(api.url("/oauth/token"), secret, in_body));
        fetched(fetcher.fetch(&request, &grant).await);
        fetched(fetcher.fetch(&request, &grant).await);
    }
    // One grant per way of sending the client's secret (two credentials), each token kept.
    let grants = api.arrivals_for("/oauth/token");
    assert_eq!(grants.len(), 2);
    assert!(grants.iter().all(|g| g.status == 200));
    assert!(grants[0].body.contains("grant_type=client_credentials"));
    assert!(grants[0].body.contains("scope=read+reports"));
    assert!(!grants[0].body.contains("client_secret"));
    assert!(grants[1].body.contains("client_secret=s3cret%2F%2B%3D"));
    assert_eq!(api.requests_for("/data"), 4);

    let wrong = credentials(client_secret(
        api.url("/oauth/token"),
        "not-the-secret",
        false,
    ));
    let error = failure(fetcher.fetch(&request, &wrong).await);
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(!error.contains("not-the-secret"), "{error}");
}

fn signed_secret(scheme: &tokens::SigningScheme, key: &str) -> GetCredentialSecretResponse {
    GetCredentialSecretResponse {
        kind: CredentialKind::Signed as i32,
        username: "key-42".into(),
        signing: Some(scheme.clone()),
        signing_key: key.into(),
        ..Default::default()
    }
}

fn sha256_scheme() -> tokens::SigningScheme {
    tokens::SigningScheme {
        algorithm: tokens::SigningAlgorithm::HmacSha256 as i32,
        string_to_sign: "{method}\\n{path}\\n{query}\\n{timestamp}\\n{key_id}\\n{body_sha256}"
            .into(),
        encoding: tokens::SignatureEncoding::Hex as i32,
        signature_header: "X-Signature".into(),
        signature_prefix: "HMAC-SHA256 ".into(),
        timestamp_header: "X-Timestamp".into(),
        timestamp_format: tokens::TimestampFormat::Rfc3339 as i32,
        key_id_header: "X-Key-Id".into(),
        ..Default::default()
    }
}

fn sha1_scheme() -> tokens::SigningScheme {
    tokens::SigningScheme {
        algorithm: tokens::SigningAlgorithm::HmacSha1 as i32,
        encoding: tokens::SignatureEncoding::Base64 as i32,
        signature_parameter: "signature".into(),
        timestamp_parameter: "ts".into(),
        timestamp_format: tokens::TimestampFormat::EpochMillis as i32,
        key_id_parameter: "key".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn signatures_the_server_recomputes_are_accepted_and_a_wrong_key_is_not() {
    for scheme in [sha256_scheme(), sha1_scheme()] {
        let api = DataApi::start().await;
        api.require(Auth::Signed(SignatureCheck {
            scheme: scheme.clone(),
            key_id: "key-42".into(),
            secret: "the-shared-secret".into(),
        }));
        api.set_json("/orders", json!({"orders": [1]}));
        let fetcher = Fetcher::new(&settings()).unwrap();
        let request = HttpRequest {
            method: reqwest::Method::POST,
            body: r#"{"since": "2026-12-01"}"#.into(),
            ..get(api.url("/orders?status=open&page=1"), DataFormat::Json)
        };
        let signed = credentials(signed_secret(&scheme, "the-shared-secret"));
        let body = fetched(fetcher.fetch(&request, &signed).await);
        assert_eq!(body.data, json!({"orders": [1]}));

        let wrong = credentials(signed_secret(&scheme, "a-wrong-secret"));
        let error = failure(fetcher.fetch(&request, &wrong).await);
        assert!(error.contains("HTTP 401"), "{error}");
        assert!(!error.contains("a-wrong-secret"), "{error}");
        let statuses: Vec<u16> = api.arrivals().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 401]);
    }
}

#[tokio::test]
async fn every_page_of_a_signed_request_is_signed() {
    let api = DataApi::start().await;
    api.require(Auth::Signed(SignatureCheck {
        scheme: sha1_scheme(),
        key_id: "key-42".into(),
        secret: "the-shared-secret".into(),
    }));
    api.set_pages(
        "/pages",
        "page",
        vec![
            ("1", Reply::json(json!([1]))),
            ("2", Reply::json(json!([2]))),
            ("3", Reply::json(json!([3]))),
            ("4", Reply::json(json!([]))),
        ],
    );
    let fetcher = Fetcher::new(&settings()).unwrap();
    let by_number = paging(
        Style::PageNumber {
            parameter: "page".into(),
            first_page: 1,
        },
        "",
        0,
    );
    let signed = credentials(signed_secret(&sha1_scheme(), "the-shared-secret"));
    let body = fetched(
        fetcher
            .fetch_pages(
                &get(api.url("/pages"), DataFormat::Json),
                Some(&by_number),
                &signed,
                &NoGate,
            )
            .await,
    );
    assert_eq!(body.data, json!([1, 2, 3]));
    let arrivals = api.arrivals();
    assert_eq!(arrivals.len(), 4);
    assert!(arrivals.iter().all(|a| a.status == 200), "{arrivals:?}");
    // Each page carries its own signature.
    let signatures: std::collections::HashSet<String> = arrivals
        .iter()
        .map(|a| a.query.split("signature=").nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(signatures.len(), 4);
}
