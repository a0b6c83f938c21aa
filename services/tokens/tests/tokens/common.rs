//! What the tests share: starting the service (one or more replicas on one database) with
//! the library it asks about memberships and data sources, accounts whose test users are
//! members, and a provider at the test OAuth server; the calls tests make are in `calls`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tonic::Request;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::{InProcess, Port, RunningService, TestDatabase, TestServer, members, tokens};
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
pub fn replica(settings: Settings, library_url: &str) -> InProcess<'static, Settings, Build> {
    let library_url = library_url.to_owned();
    InProcess::new(ServiceKind::Tokens, settings, build as Build)
        .configure(move |common| {
            common.library_url = library_url;
            common.membership_cache = Duration::from_secs(3600);
        })
        .pool_size(16)
}

/// How the tests build the service: its `build`, as one nameable type.
pub type Build = fn(ServiceContext<Settings>) -> BuildFuture;
pub type BuildFuture = Pin<Box<dyn Future<Output = anyhow::Result<GrpcServer>> + Send>>;

fn build(context: ServiceContext<Settings>) -> BuildFuture {
    Box::pin(trellis_tokens::build(context))
}

/// The library service in-process on its own database, calling the token registry at
/// `tokens_url`; stops when dropped.
pub struct Library {
    pub service: RunningService,
}

impl Library {
    pub async fn start(tokens_url: &str) -> Self {
        let tokens_url = tokens_url.to_owned();
        let service = InProcess::new(
            ServiceKind::Library,
            trellis_library::Settings::default(),
            trellis_library::build,
        )
        .configure(move |common| {
            common.tokens_url = tokens_url;
            common.refresh_url = NOWHERE.to_owned();
        })
        .start(&trellis_library::SCHEMA)
        .await;
        Self { service }
    }

    pub fn url(&self) -> String {
        self.service.server.url()
    }

    pub fn client(&self) -> LibraryServiceClient<TracedChannel> {
        LibraryServiceClient::new(self.service.server.channel())
    }

    /// A new account of `kind` (a client of `parent`), created by an operator, with the
    /// test users (`admin@test`, `editor@test`, `viewer@test`) enrolled as its members.
    pub async fn account(&self, kind: library::AccountKind, parent: Option<Uuid>) -> Uuid {
        members::enrolled_account(&self.service.server.channel(), kind, parent).await
    }

    /// Stops the library and waits until it no longer listens: calls to it fail from now
    /// on (what the registry remembers of memberships still holds).
    pub async fn stop(&mut self) {
        self.service.server.stop().await;
    }
}

/// The token service's client, as the tests hold it.
pub type Client = TokenServiceClient<TracedChannel>;

pub fn client(server: &TestServer) -> TokenServiceClient<TracedChannel> {
    TokenServiceClient::new(server.channel())
}

/// A request carrying `bearer`.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

pub use crate::calls::*;

/// What most tests start from: the service with a provider without a per-user limit, its
/// client, and two accounts (an owner of tokens, and another).
pub struct Scene {
    pub fixture: Fixture,
    pub provider: Provider,
    pub client: TokenServiceClient<TracedChannel>,
    pub partner: Uuid,
    pub grantee: Uuid,
}

impl Scene {
    pub async fn start() -> Self {
        let fixture = Fixture::start(OAuthServerConfig::default()).await;
        let provider = fixture.provider(0, 0).await;
        let client = fixture.client.clone();
        let partner = fixture.account().await;
        let grantee = fixture.account().await;
        Self {
            fixture,
            provider,
            client,
            partner,
            grantee,
        }
    }
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
        let port = Port::bind().await;
        let library = Library::start(&port.url()).await;
        let server = replica(settings, &library.url())
            .pool_size(pool_size)
            .on(port)
            .serve(&database)
            .await;
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
        replica(settings(), &self.library.url())
            .serve(&self.database)
            .await
    }

    /// Another replica on the same database and library whose calls run at most
    /// `request_timeout`: it cuts its own handlers short, as a caller's deadline does.
    pub async fn impatient_replica(&self, request_timeout: Duration) -> TestServer {
        replica(settings(), &self.library.url())
            .configure(move |common| common.request_timeout = request_timeout)
            .serve(&self.database)
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

/// A provider at the test OAuth server, without limits.
pub fn provider_at(oauth: &OAuthServer, name: &str) -> Provider {
    Provider {
        name: name.into(),
        scopes: vec!["analytics.read".into(), "profile".into()],
        authorization_parameters: [("access_type".to_owned(), "offline".to_owned())]
            .into_iter()
            .collect(),
        ..oauth.provider()
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
                    max_tokens_per_user,
                    warn_tokens_per_user,
                    token_limit: Some(ApiLimit {
                        requests_per_period: 10,
                        period: Some(prost_types::Duration {
                            seconds: 1,
                            nanos: 0,
                        }),
                        max_concurrent: 2,
                        additional_rates: Vec::new(),
                    }),
                    rate_limit_key_limit: Some(ApiLimit {
                        requests_per_period: 50000,
                        period: Some(prost_types::Duration {
                            seconds: 86400,
                            nanos: 0,
                        }),
                        max_concurrent: 10,
                        additional_rates: Vec::new(),
                    }),
                    ..provider_at(oauth, "Test Analytics")
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
