//! A service running in-process on `127.0.0.1:0`, reached over real gRPC.
//!
//! [`InProcess`] builds a service the way its binary does (a [`ServiceContext`] over
//! [`test_config`], then the crate's `build`) and serves it on loopback until the handle is
//! dropped:
//!
//! ```ignore
//! // One service on a database of its own:
//! let library = InProcess::new(ServiceKind::Library, Default::default(), trellis_library::build)
//!     .configure(|common| common.refresh_url = NOWHERE.into())
//!     .start(&trellis_library::SCHEMA)
//!     .await; // a RunningService: .server (url, channel) and .database
//!
//! // Two services that call each other: the second one's port is bound first, so the first
//! // can be given its URL.
//! let tokens_port = Port::bind().await;
//! let tokens_url = tokens_port.url();
//! let library = InProcess::new(ServiceKind::Library, Default::default(), trellis_library::build)
//!     .configure(move |common| common.tokens_url = tokens_url)
//!     .start(&trellis_library::SCHEMA)
//!     .await;
//! let library_url = library.server.url();
//! let tokens = InProcess::new(ServiceKind::Tokens, Default::default(), trellis_tokens::build)
//!     .configure(move |common| common.library_url = library_url)
//!     .on(tokens_port)
//!     .start(&trellis_tokens::SCHEMA)
//!     .await;
//!
//! // Replicas: several servers over one database, each with a pool of its own.
//! let replica = InProcess::new(ServiceKind::Tokens, settings(), trellis_tokens::build)
//!     .pool_size(16)
//!     .serve(&database)
//!     .await; // a TestServer
//! ```

use std::future::Future;
use std::net::SocketAddr;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trellis_platform::client::{self, TracedChannel};
use trellis_platform::config::{CommonConfig, ServiceKind};
use trellis_platform::db::{self, Schema};
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;

use crate::TestDatabase;
use crate::tokens::TEST_SECRET;

#[derive(Parser)]
struct ConfigOnly {
    #[command(flatten)]
    common: CommonConfig,
}

/// The configuration services get in tests: the test secret, the given database, quick
/// readiness checks. Peer URLs are set by the test where services call each other.
pub fn test_config(database_url: &str) -> CommonConfig {
    let mut common = ConfigOnly::parse_from(["test"]).common;
    common.database_url = Some(database_url.to_owned());
    common.jwt_secret = Some(TEST_SECRET.to_owned());
    common.jwt_public_key_file = None;
    common.development = true;
    common.readiness_interval = std::time::Duration::from_secs(1);
    common.migrate_at_start = false;
    common
}

/// A loopback port bound before its server is built, so that a service started earlier can
/// be given its URL (services that call each other).
pub struct Port {
    listener: TcpListener,
}

impl Port {
    pub async fn bind() -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port"),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().expect("a local address")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// Serves `server` on this port until the answer is dropped or stopped.
    pub fn serve(self, server: GrpcServer) -> TestServer {
        let address = self.address();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(self.listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            shutdown: Some(shutdown),
            serving: Some(serving),
        }
    }
}

/// A running server; stops when dropped.
pub struct TestServer {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Serves `server` on a new loopback port.
    pub async fn spawn(server: GrpcServer) -> Self {
        Port::bind().await.serve(server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A channel to the server that carries trace context.
    pub fn channel(&self) -> TracedChannel {
        client::channel(&self.url()).expect("a channel to the test server")
    }

    /// Stops the server and waits until it no longer listens: calls to it fail from now on.
    /// Panics unless it stopped cleanly.
    pub async fn stop(&mut self) {
        self.shutdown.take();
        if let Some(serving) = self.serving.take() {
            serving
                .await
                .expect("the server's task")
                .expect("the server stops cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A service running in-process on its own fresh database.
pub struct RunningService {
    pub server: TestServer,
    pub database: TestDatabase,
}

impl RunningService {
    /// Builds the service with `build` (its crate's `build` function) over a new database
    /// migrated to `schema`, with [`test_config`] adjusted by `configure`; the short form of
    /// [`InProcess`].
    pub async fn start<E, B, F>(
        kind: ServiceKind,
        schema: &Schema,
        settings: E,
        configure: impl FnOnce(&mut CommonConfig),
        build: B,
    ) -> Self
    where
        B: FnOnce(ServiceContext<E>) -> F,
        F: Future<Output = anyhow::Result<GrpcServer>>,
    {
        InProcess::new(kind, settings, build)
            .configure(configure)
            .start(schema)
            .await
    }
}

/// A change to a service's [`test_config`].
type ConfigChange<'a> = Box<dyn FnOnce(&mut CommonConfig) + 'a>;

/// How to start one service in-process: its kind, settings and `build` function, the changes
/// to [`test_config`], its pool size and port. See the module documentation for examples.
pub struct InProcess<'a, E, B> {
    kind: ServiceKind,
    settings: E,
    build: B,
    configure: Vec<ConfigChange<'a>>,
    pool_size: usize,
    port: Option<Port>,
}

impl<'a, E, B, F> InProcess<'a, E, B>
where
    B: FnOnce(ServiceContext<E>) -> F,
    F: Future<Output = anyhow::Result<GrpcServer>>,
{
    /// A service of `kind` built by `build` (its crate's `build` function) with `settings`,
    /// a pool of 8 connections and a new port.
    pub fn new(kind: ServiceKind, settings: E, build: B) -> Self {
        Self {
            kind,
            settings,
            build,
            configure: Vec::new(),
            pool_size: 8,
            port: None,
        }
    }

    /// Adjusts the service's [`test_config`] (peer URLs, cache lifetimes); changes apply in
    /// the order given.
    pub fn configure(mut self, change: impl FnOnce(&mut CommonConfig) + 'a) -> Self {
        self.configure.push(Box::new(change));
        self
    }

    /// The size of the service's own connection pool.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Serves on `port` (bound earlier, so that a peer already knows the URL).
    pub fn on(mut self, port: Port) -> Self {
        self.port = Some(port);
        self
    }

    /// Builds the server over `database` without serving it, for tests of what `build`
    /// refuses; the port, if any, is not used.
    pub async fn build(self, database: &TestDatabase) -> anyhow::Result<GrpcServer> {
        let mut config = test_config(&database.url);
        for change in self.configure {
            change(&mut config);
        }
        let pool = db::pool(&database.url, self.pool_size)?;
        let context = ServiceContext::new(self.kind, config, self.settings, pool)?;
        (self.build)(context).await
    }

    /// Serves the service over `database`, which the caller keeps (replicas share one).
    pub async fn serve(mut self, database: &TestDatabase) -> TestServer {
        let port = match self.port.take() {
            Some(port) => port,
            None => Port::bind().await,
        };
        let server = self.build(database).await.expect("the service builds");
        port.serve(server)
    }

    /// Serves the service over a new database migrated to `schema`, dropped with it.
    pub async fn start(self, schema: &Schema) -> RunningService {
        let database = TestDatabase::new(schema).await;
        let server = self.serve(&database).await;
        RunningService { server, database }
    }
}
