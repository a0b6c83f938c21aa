//! What the tests share: starting the service (one or more replicas on one database) with
//! the library it asks about memberships and data sources, accounts whose test users are
//! members, and a provider at the test OAuth server; the calls tests make are in `calls`.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Request;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::{CommonConfig, ServiceKind};
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
    replica_with(database, settings, library_url, 16, |_| {}).await
}

/// A replica as [`replica`] with a pool of `pool_size` connections and its common settings
/// adjusted by `configure`.
pub async fn replica_with(
    database: &TestDatabase,
    settings: Settings,
    library_url: &str,
    pool_size: usize,
    configure: impl FnOnce(&mut CommonConfig),
) -> TestServer {
    let mut common = test_config(&database.url);
    common.library_url = library_url.to_owned();
    common.membership_cache_secs = 3600;
    configure(&mut common);
    let pool = trellis_platform::db::pool(&database.url, pool_size).expect("a pool");
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

pub use crate::calls::*;

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
        Self::start_pooled(config, settings, 16).await
    }

    /// A fixture whose replica has a pool of `pool_size` connections.
    pub async fn start_pooled(
        config: OAuthServerConfig,
        settings: Settings,
        pool_size: usize,
    ) -> Self {
        let oauth = OAuthServer::start(config).await;
        let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let port = LibraryPort::bind().await;
        let server = replica_with(&database, settings, &port.url(), pool_size, |_| {}).await;
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

    /// Another replica on the same database and library whose calls run at most
    /// `request_timeout_secs`: it cuts its own handlers short, as a caller's deadline does.
    pub async fn impatient_replica(&self, request_timeout_secs: u64) -> TestServer {
        replica_with(
            &self.database,
            settings(),
            &self.library.url(),
            16,
            |common| common.request_timeout_secs = request_timeout_secs,
        )
        .await
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
