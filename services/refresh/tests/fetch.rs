//! Fetching against a real HTTP server on loopback: credentials, JSON and CSV, the size
//! cap, timeouts, 429 and 401, the SSRF guard, and errors that never carry a secret.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

use std::time::Duration;

use trellis_refresh::Settings;
use trellis_refresh::domain::job::DataFormat;
use trellis_refresh::fetch::{Credentials, FetchOutcome, Fetcher, HttpRequest};
use trellis_testkit::data_api::{Auth, DataApi, Reply};

fn settings() -> Settings {
    Settings {
        allow_private_networks: true,
        max_response_bytes: 1024 * 1024,
        fetch_timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

fn get(url: String, format: DataFormat) -> HttpRequest {
    HttpRequest {
        method: reqwest::Method::GET,
        url,
        headers: vec![("Accept".into(), "*/*".into())],
        body: String::new(),
        format,
    }
}

fn failure(outcome: FetchOutcome) -> String {
    match outcome {
        FetchOutcome::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn json_and_csv_are_parsed_and_hashed() {
    let api = DataApi::start().await;
    api.set_json("/sales", serde_json::json!({"total": 42, "rows": [1, 2]}));
    api.set_csv("/sales.csv", "region,total\nnorth,10\nsouth,32\n");
    let fetcher = Fetcher::new(&settings()).unwrap();

    let FetchOutcome::Fetched(json) = fetcher
        .fetch(
            &get(api.url("/sales"), DataFormat::Json),
            &Credentials::None,
        )
        .await
    else {
        panic!("fetched");
    };
    assert_eq!(json.data, serde_json::json!({"total": 42, "rows": [1, 2]}));
    assert_eq!(json.content_hash.len(), 64);

    let FetchOutcome::Fetched(csv) = fetcher
        .fetch(
            &get(api.url("/sales.csv"), DataFormat::Csv),
            &Credentials::None,
        )
        .await
    else {
        panic!("fetched");
    };
    assert_eq!(
        csv.data,
        serde_json::json!([["region", "total"], ["north", "10"], ["south", "32"]])
    );
    assert_eq!(csv.size_bytes, 31);
}

#[tokio::test]
async fn each_kind_of_credential_is_presented_as_the_api_expects() {
    let api = DataApi::start().await;
    api.set_json("/data", serde_json::json!([]));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let request = get(api.url("/data"), DataFormat::Json);
    let cases = [
        (
            Auth::Bearer(std::sync::Arc::new(|token: &str| token == "access-1")),
            Credentials::Bearer("access-1".into()),
        ),
        (
            Auth::Basic {
                username: "ann".into(),
                password: "pw".into(),
            },
            Credentials::Basic {
                username: "ann".into(),
                password: "pw".into(),
            },
        ),
        (
            Auth::ApiKeyHeader {
                name: "X-Api-Key".into(),
                key: "k1".into(),
            },
            Credentials::ApiKeyHeader {
                name: "X-Api-Key".into(),
                key: "k1".into(),
            },
        ),
        (
            Auth::ApiKeyQuery {
                name: "api_key".into(),
                key: "k 2+".into(),
            },
            Credentials::ApiKeyQuery {
                name: "api_key".into(),
                key: "k 2+".into(),
            },
        ),
    ];
    for (auth, credentials) in cases {
        api.require(auth.clone());
        let outcome = fetcher.fetch(&request, &credentials).await;
        assert!(
            matches!(outcome, FetchOutcome::Fetched(_)),
            "{auth:?}: {outcome:?}"
        );
        let refused = fetcher.fetch(&request, &Credentials::None).await;
        assert!(
            matches!(refused, FetchOutcome::Failed(ref m) if m.contains("401")),
            "{auth:?} without credentials: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_cap_fails_with_or_without_a_length() {
    let api = DataApi::start().await;
    api.set("/big", Reply::large(2 * 1024 * 1024));
    api.set("/big-chunked", Reply::large(2 * 1024 * 1024).chunked());
    api.set("/fits", Reply::large(512 * 1024).chunked());
    let fetcher = Fetcher::new(&settings()).unwrap();
    for path in ["/big", "/big-chunked"] {
        let message = failure(
            fetcher
                .fetch(&get(api.url(path), DataFormat::Json), &Credentials::None)
                .await,
        );
        assert!(
            message.contains("larger than the limit of 1048576 bytes"),
            "{path}: {message}"
        );
    }
    assert!(matches!(
        fetcher
            .fetch(&get(api.url("/fits"), DataFormat::Json), &Credentials::None)
            .await,
        FetchOutcome::Fetched(_)
    ));
}

#[tokio::test]
async fn a_slow_api_times_out() {
    let api = DataApi::start().await;
    api.set_json("/slow", serde_json::json!(1));
    api.set_delay("/slow", Duration::from_secs(3));
    let mut settings = settings();
    settings.fetch_timeout = Duration::from_millis(300);
    let fetcher = Fetcher::new(&settings).unwrap();
    let message = failure(
        fetcher
            .fetch(&get(api.url("/slow"), DataFormat::Json), &Credentials::None)
            .await,
    );
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn a_429_says_how_long_to_wait_and_a_401_to_a_bearer_is_reported() {
    let api = DataApi::start().await;
    api.set_json("/data", serde_json::json!(1));
    api.fail_next(
        "/data",
        1,
        Reply::status(429).with_header("Retry-After", "2"),
    );
    let fetcher = Fetcher::new(&settings()).unwrap();
    let request = get(api.url("/data"), DataFormat::Json);
    assert_eq!(
        fetcher.fetch(&request, &Credentials::None).await,
        FetchOutcome::RateLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    api.fail_next("/data", 1, Reply::status(401));
    assert_eq!(
        fetcher
            .fetch(&request, &Credentials::Bearer("old".into()))
            .await,
        FetchOutcome::Unauthorized
    );
}

#[tokio::test]
async fn private_destinations_are_refused_by_address_and_by_name() {
    let api = DataApi::start().await;
    api.set_json("/data", serde_json::json!(1));
    let mut settings = settings();
    settings.allow_private_networks = false;
    let fetcher = Fetcher::new(&settings).unwrap();
    for url in [
        api.url("/data"),
        api.url_by_name("/data"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]:9/".to_owned(),
    ] {
        let message = failure(
            fetcher
                .fetch(&get(url.clone(), DataFormat::Json), &Credentials::None)
                .await,
        );
        assert!(
            message.contains("private, loopback or link-local"),
            "{url}: {message}"
        );
    }
    assert_eq!(api.requests(), 0, "nothing reached the server");
}

#[tokio::test]
async fn errors_never_contain_the_secret() {
    let api = DataApi::start().await;
    api.set("/broken", Reply::status(500));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let secret = "sup3r-s3cret-key";
    let credentials = Credentials::ApiKeyQuery {
        name: "key".into(),
        key: secret.into(),
    };
    let message = failure(
        fetcher
            .fetch(&get(api.url("/broken"), DataFormat::Json), &credentials)
            .await,
    );
    assert!(message.contains("500"), "{message}");
    assert!(!message.contains(secret), "{message}");

    // A connection error: nothing listens on the port any more.
    let closed = api.url("/broken");
    drop(api);
    let fetcher = Fetcher::new(&settings()).unwrap();
    let message = failure(
        fetcher
            .fetch(&get(closed, DataFormat::Json), &credentials)
            .await,
    );
    assert!(!message.contains(secret), "{message}");
}

#[tokio::test]
async fn a_request_carrying_a_secret_is_not_redirected_to_another_host() {
    let api = DataApi::start().await;
    let elsewhere = DataApi::start().await;
    elsewhere.set_json("/collect", serde_json::json!({"stolen": true}));
    api.set(
        "/moved",
        Reply::status(302).with_header("location", &elsewhere.url("/collect")),
    );
    api.set(
        "/here",
        Reply::status(302).with_header("location", &api.url("/sales")),
    );
    api.set_json("/sales", serde_json::json!({"total": 42}));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let plain = |path: &str| HttpRequest {
        headers: vec![],
        ..get(api.url(path), DataFormat::Json)
    };
    let with_key_header = |path: &str| HttpRequest {
        headers: vec![("X-Api-Key".into(), "kept-as-a-property".into())],
        ..get(api.url(path), DataFormat::Json)
    };
    let key_in_query = Credentials::ApiKeyQuery {
        name: "key".into(),
        key: "the-partners-key".into(),
    };

    // With credentials, or with headers of the author's that may hold one, a redirect to
    // another host is not followed (I14)...
    for (request, credentials) in [
        (plain("/moved"), key_in_query.clone()),
        (with_key_header("/moved"), Credentials::None),
    ] {
        let message = failure(fetcher.fetch(&request, &credentials).await);
        assert!(message.contains("redirect"), "{message}");
    }
    assert_eq!(elsewhere.requests(), 0, "{:?}", elsewhere.arrivals());
    // ...one on the same host is, and a bare request goes wherever it is sent.
    assert!(matches!(
        fetcher
            .fetch(&with_key_header("/here"), &key_in_query)
            .await,
        FetchOutcome::Fetched(_)
    ));
    assert!(matches!(
        fetcher.fetch(&plain("/moved"), &Credentials::None).await,
        FetchOutcome::Fetched(_)
    ));
    assert_eq!(elsewhere.requests(), 1);
}
