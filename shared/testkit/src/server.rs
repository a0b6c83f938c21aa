//! A service running in-process on `127.0.0.1:0`, reached over real gRPC.

use std::net::SocketAddr;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use trellis_platform::client::{self, TracedChannel};
use trellis_platform::config::CommonConfig;
use trellis_platform::server::GrpcServer;

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
    common.readiness_interval_secs = 1;
    common.migrate_at_start = false;
    common
}

/// A running server; stops when dropped.
pub struct TestServer {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn spawn(server: GrpcServer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("a local address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            shutdown: Some(shutdown),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A channel to the server that carries trace context.
    pub fn channel(&self) -> TracedChannel {
        client::channel(&self.url()).expect("a channel to the test server")
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
    pub database: crate::TestDatabase,
}

impl RunningService {
    /// Builds the service with `build` (its crate's `build` function) over a new database
    /// migrated to `schema`, with [`test_config`] adjusted by `configure`.
    pub async fn start<E, B, F>(
        kind: trellis_platform::config::ServiceKind,
        schema: &trellis_platform::db::Schema,
        settings: E,
        configure: impl FnOnce(&mut CommonConfig),
        build: B,
    ) -> Self
    where
        B: FnOnce(trellis_platform::service::ServiceContext<E>) -> F,
        F: std::future::Future<Output = anyhow::Result<GrpcServer>>,
    {
        let database = crate::TestDatabase::new(schema).await;
        let mut config = test_config(&database.url);
        configure(&mut config);
        let context =
            trellis_platform::service::ServiceContext::new(kind, config, settings, database.pool())
                .expect("a service context");
        let server = TestServer::spawn(build(context).await.expect("the service builds")).await;
        Self { server, database }
    }
}
