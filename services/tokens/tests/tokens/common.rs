//! What the tests share: starting the service (one or more replicas on one database), a
//! provider at the test OAuth server, and the browser's part of the code flow.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tonic::Request;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::{TestDatabase, TestServer, test_config, tokens};
use trellis_tokens::Settings;
use uuid::Uuid;

/// Where the provider sends the browser back; nothing listens there, the test reads the
/// redirect instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// A library URL where nothing answers, for tests that do not need the library.
pub const NO_LIBRARY: &str = "http://127.0.0.1:9";

pub fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// Settings with two keys, the second active (rotation in effect).
pub fn settings() -> Settings {
    Settings {
        encryption_keys: Some(format!("k1:{},k2:{}", key(1), key(2)).parse().unwrap()),
        active_key_id: Some("k2".into()),
        ..Settings::default()
    }
}

/// One tokens-service replica over `database`, with its own connection pool, as a separate
/// process would have.
pub async fn replica(database: &TestDatabase, settings: Settings, library_url: &str) -> TestServer {
    let mut common = test_config(&database.url);
    common.library_url = library_url.to_owned();
    let pool = trellis_platform::db::pool(&database.url, 16).expect("a pool");
    let context = ServiceContext::new(ServiceKind::Tokens, common, settings, pool)
        .expect("a service context");
    TestServer::spawn(
        trellis_tokens::build(context)
            .await
            .expect("the service builds"),
    )
    .await
}

pub fn client(server: &TestServer) -> TokenServiceClient<TracedChannel> {
    TokenServiceClient::new(server.channel())
}

/// A request carrying `bearer`.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

/// A tokens service on a fresh database, with the test OAuth server.
pub struct Fixture {
    pub oauth: OAuthServer,
    pub database: TestDatabase,
    /// Kept for its lifetime: the server stops when dropped.
    pub _server: TestServer,
    pub client: TokenServiceClient<TracedChannel>,
}

impl Fixture {
    pub async fn start(config: OAuthServerConfig) -> Self {
        Self::start_with(config, settings(), NO_LIBRARY).await
    }

    pub async fn start_with(
        config: OAuthServerConfig,
        settings: Settings,
        library_url: &str,
    ) -> Self {
        let oauth = OAuthServer::start(config).await;
        let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let server = replica(&database, settings, library_url).await;
        let client = client(&server);
        Self {
            oauth,
            database,
            _server: server,
            client,
        }
    }

    /// Registers the test OAuth server as a provider.
    pub async fn provider(&self, max_tokens_per_user: i32, warn_tokens_per_user: i32) -> Provider {
        create_provider(
            &mut self.client.clone(),
            &self.oauth,
            max_tokens_per_user,
            warn_tokens_per_user,
        )
        .await
    }
}

pub async fn create_provider(
    client: &mut TokenServiceClient<TracedChannel>,
    oauth: &OAuthServer,
    max_tokens_per_user: i32,
    warn_tokens_per_user: i32,
) -> Provider {
    client
        .create_provider(call(
            CreateProviderRequest {
                request_id: String::new(),
                provider: Some(Provider {
                    name: "Test Analytics".into(),
                    authorization_url: oauth.authorization_url(),
                    token_url: oauth.token_url(),
                    revocation_url: oauth.revocation_url(),
                    userinfo_url: oauth.userinfo_url(),
                    client_id: oauth.client_id(),
                    client_secret: oauth.client_secret(),
                    scopes: vec!["analytics.read".into(), "profile".into()],
                    authorization_parameters: [("access_type".to_owned(), "offline".to_owned())]
                        .into_iter()
                        .collect(),
                    max_tokens_per_user,
                    warn_tokens_per_user,
                    token_limit: Some(ApiLimit {
                        requests_per_period: 10,
                        period: Some(prost_types::Duration {
                            seconds: 1,
                            nanos: 0,
                        }),
                        max_concurrent: 2,
                    }),
                    rate_limit_key_limit: Some(ApiLimit {
                        requests_per_period: 50000,
                        period: Some(prost_types::Duration {
                            seconds: 86400,
                            nanos: 0,
                        }),
                        max_concurrent: 10,
                    }),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateProvider")
        .into_inner()
        .provider
        .expect("a provider")
}

/// What the browser does: GET the authorization URL and read where the provider redirects.
/// Returns the redirect's query parameters.
pub async fn follow_authorization_url(url: &str) -> std::collections::HashMap<String, String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.expect("the provider answers");
    assert!(
        response.status().is_redirection(),
        "the provider redirects back, got {}",
        response.status()
    );
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The whole code flow for `account`'s admin: begin, the browser, complete. With
/// `token_id`, a re-authorization.
pub async fn authorize(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    provider_id: &str,
    token_id: Option<&str>,
) -> CompleteAuthorizationResponse {
    let admin = tokens::admin(account);
    let begun = client
        .begin_authorization(call(
            BeginAuthorizationRequest {
                request_id: String::new(),
                account_id: String::new(),
                provider_id: provider_id.to_owned(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Marketing GA".into(),
                token_id: token_id.unwrap_or_default().to_owned(),
            },
            &admin,
        ))
        .await
        .expect("BeginAuthorization")
        .into_inner();
    let redirect = follow_authorization_url(&begun.authorization_url).await;
    assert_eq!(
        redirect.get("state"),
        Some(&begun.state),
        "the state comes back"
    );
    client
        .complete_authorization(call(
            CompleteAuthorizationRequest {
                request_id: Uuid::new_v4().to_string(),
                state: begun.state,
                code: redirect.get("code").cloned().expect("a code"),
                error: String::new(),
            },
            &admin,
        ))
        .await
        .expect("CompleteAuthorization")
        .into_inner()
}

/// GetAccessToken as the refresh service calls it.
pub async fn access_token(
    client: &mut TokenServiceClient<TracedChannel>,
    token_id: &str,
    account: Uuid,
    data_source: Uuid,
    rejected_generation: i64,
) -> Result<GetAccessTokenResponse, tonic::Status> {
    client
        .get_access_token(call(
            GetAccessTokenRequest {
                token_id: token_id.to_owned(),
                account_id: account.to_string(),
                data_source_id: data_source.to_string(),
                rejected_generation,
            },
            &tokens::service(),
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The google.rpc details of a failed call, for assertions.
pub fn details(status: &tonic::Status) -> tonic_types::ErrorDetails {
    use tonic_types::StatusExt;
    status.get_error_details()
}

/// The token as its account sees it.
pub async fn get_token(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    id: &str,
) -> Token {
    client
        .get_token(call(
            GetTokenRequest {
                id: id.to_owned(),
                account_id: String::new(),
            },
            &tokens::admin(account),
        ))
        .await
        .expect("GetToken")
        .into_inner()
        .token
        .expect("a token")
}
