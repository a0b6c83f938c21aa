//! What the tests share: starting the service (one or more replicas on one database) with
//! the library it asks about memberships and data sources, accounts whose test users are
//! members, a provider at the test OAuth server, and the browser's part of the code flow.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Request;
use trellis_platform::auth::Identity;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::{TestDatabase, TestServer, members, test_config, tokens};
use trellis_tokens::Settings;
use uuid::Uuid;

/// Where the provider sends the browser back; nothing listens there, the test reads the
/// redirect instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// A URL where nothing answers, for peers a test does not need.
pub const NOWHERE: &str = "http://127.0.0.1:9";

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
/// process would have, asking the library at `library_url` about memberships. No test
/// removes a membership, so answers are remembered for the whole test: a test may stop the
/// library once its users have made their first calls.
pub async fn replica(database: &TestDatabase, settings: Settings, library_url: &str) -> TestServer {
    let mut common = test_config(&database.url);
    common.library_url = library_url.to_owned();
    common.membership_cache_secs = 3600;
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

/// The library's port, bound before the token registry is started so that each can be
/// given the other's URL: the registry asks the library about memberships and data
/// sources, the library asks the registry whether a data source may name a token.
pub struct LibraryPort {
    listener: TcpListener,
}

impl LibraryPort {
    pub async fn bind() -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port"),
        }
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.listener.local_addr().expect("a local address")
        )
    }

    /// Starts the library (on a fresh database) on this port, calling the token registry
    /// at `tokens_url`.
    pub async fn serve(self, tokens_url: &str) -> Library {
        let database = TestDatabase::new(&trellis_library::SCHEMA).await;
        let mut common = test_config(&database.url);
        common.tokens_url = tokens_url.to_owned();
        common.refresh_url = NOWHERE.to_owned();
        let context = ServiceContext::new(
            ServiceKind::Library,
            common,
            trellis_library::Settings::default(),
            database.pool(),
        )
        .expect("a service context");
        let server = trellis_library::build(context)
            .await
            .expect("the library builds");
        let address = self.listener.local_addr().expect("a local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(self.listener, async {
            let _ = stopped.await;
        }));
        Library {
            _database: database,
            address,
            stop: Some(stop),
            serving: Some(serving),
        }
    }
}

/// The library service in-process on its own database; stops when dropped.
pub struct Library {
    /// Kept for its lifetime: the database is dropped with it.
    _database: TestDatabase,
    address: SocketAddr,
    /// Dropping it stops the server.
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Library {
    /// A library that calls no token registry (no data source of it names a token).
    pub async fn start() -> Self {
        LibraryPort::bind().await.serve(NOWHERE).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn channel(&self) -> TracedChannel {
        client::channel(&self.url()).expect("a channel to the library")
    }

    pub fn client(&self) -> LibraryServiceClient<TracedChannel> {
        LibraryServiceClient::new(self.channel())
    }

    /// A new account of `kind` (a client of `parent`), created by an operator, with the
    /// test users (`admin@test`, `editor@test`, `viewer@test`) enrolled as its members.
    pub async fn account(&self, kind: library::AccountKind, parent: Option<Uuid>) -> Uuid {
        let id: Uuid = self
            .client()
            .create_account(call(
                library::CreateAccountRequest {
                    request_id: String::new(),
                    account: Some(library::Account {
                        kind: kind as i32,
                        parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                        display_name: format!("{kind:?}"),
                        ..Default::default()
                    }),
                },
                &tokens::service(),
            ))
            .await
            .expect("CreateAccount")
            .into_inner()
            .account
            .expect("an account")
            .id
            .parse()
            .expect("an account id");
        members::enroll(&self.channel(), id).await;
        id
    }

    /// Stops the library and waits until it no longer listens: calls to it fail from now
    /// on (what the registry remembers of memberships still holds).
    pub async fn stop(&mut self) {
        self.stop.take();
        if let Some(serving) = self.serving.take() {
            serving
                .await
                .expect("the library's task")
                .expect("the library stops cleanly");
        }
    }
}

pub fn client(server: &TestServer) -> TokenServiceClient<TracedChannel> {
    TokenServiceClient::new(server.channel())
}

/// A request carrying `bearer`.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

/// A tokens service on a fresh database, with its library and the test OAuth server.
pub struct Fixture {
    pub oauth: OAuthServer,
    pub database: TestDatabase,
    pub library: Library,
    /// Kept for its lifetime: the server stops when dropped.
    pub _server: TestServer,
    pub client: TokenServiceClient<TracedChannel>,
}

impl Fixture {
    pub async fn start(config: OAuthServerConfig) -> Self {
        Self::start_with(config, settings()).await
    }

    pub async fn start_with(config: OAuthServerConfig, settings: Settings) -> Self {
        let oauth = OAuthServer::start(config).await;
        let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let port = LibraryPort::bind().await;
        let server = replica(&database, settings, &port.url()).await;
        let library = port.serve(&server.url()).await;
        let client = client(&server);
        Self {
            oauth,
            database,
            library,
            _server: server,
            client,
        }
    }

    /// Another replica on the same database and library.
    pub async fn replica(&self) -> TestServer {
        replica(&self.database, settings(), &self.library.url()).await
    }

    /// A new stand-alone account in the library, with the test users as its members.
    pub async fn account(&self) -> Uuid {
        self.library
            .account(library::AccountKind::Standard, None)
            .await
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
                ..Default::default()
            },
            &tokens::service_as(Identity::Refresh),
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

/// CheckDataSourceAuth as the library asks it when `account` saves `data_source` (none
/// before it is created) naming `auth`.
pub async fn holding(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
    data_source: Option<Uuid>,
    auth: check_data_source_auth_request::Auth,
) -> AuthHolding {
    let answer = client
        .check_data_source_auth(call(
            CheckDataSourceAuthRequest {
                account_id: account.to_string(),
                data_source_id: data_source.map(|id| id.to_string()).unwrap_or_default(),
                auth: Some(auth),
                ..Default::default()
            },
            &tokens::service_as(Identity::Library),
        ))
        .await
        .expect("CheckDataSourceAuth")
        .into_inner();
    AuthHolding::try_from(answer.holding).expect("a known holding")
}
