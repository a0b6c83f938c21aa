//! The four services as separate processes, the built binaries, each on its own database,
//! calling each other over loopback as they do in production.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use trellis_platform::client::{self, TracedChannel};
use trellis_platform::config::ServiceKind;
use trellis_platform::db::Schema;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::TestDatabase;
use trellis_testkit::process::{ServiceProcess, binary};

/// A running Trellis; the processes are killed and the databases dropped with it.
pub struct Cluster {
    pub library: ServiceProcess,
    pub imports: ServiceProcess,
    pub tokens: ServiceProcess,
    pub refresh: ServiceProcess,
    _databases: Vec<TestDatabase>,
}

impl Cluster {
    /// Starts the four services. `env` is added to every process's environment (an OTLP
    /// endpoint, faster refresh settings…). Refresh may fetch from loopback, where tests
    /// run their third parties.
    pub async fn start(env: &HashMap<String, String>) -> Self {
        let addresses: Vec<SocketAddr> = ServiceKind::ALL.iter().map(|_| free_address()).collect();
        let url = |kind: ServiceKind| {
            let index = ServiceKind::ALL
                .iter()
                .position(|k| *k == kind)
                .expect("a kind");
            format!("http://{}", addresses[index])
        };
        let mut common = HashMap::from([
            ("TRELLIS_LIBRARY_URL".to_owned(), url(ServiceKind::Library)),
            ("TRELLIS_IMPORTS_URL".to_owned(), url(ServiceKind::Imports)),
            ("TRELLIS_TOKENS_URL".to_owned(), url(ServiceKind::Tokens)),
            ("TRELLIS_REFRESH_URL".to_owned(), url(ServiceKind::Refresh)),
            (
                "TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS".to_owned(),
                "true".to_owned(),
            ),
            (
                "TRELLIS_REFRESH_POLL_INTERVAL".to_owned(),
                "200ms".to_owned(),
            ),
            (
                "TRELLIS_REFRESH_SCHEDULE_INTERVAL".to_owned(),
                "200ms".to_owned(),
            ),
        ]);
        common.extend(env.clone());

        let mut databases = Vec::new();
        let mut processes = Vec::new();
        for (kind, address) in ServiceKind::ALL.into_iter().zip(&addresses) {
            let database = TestDatabase::new(&schema(kind)).await;
            let mut env = common.clone();
            env.insert("TRELLIS_LISTEN_ADDR".to_owned(), address.to_string());
            env.insert("OTEL_SERVICE_NAME".to_owned(), kind.name().to_owned());
            let process = ServiceProcess::start(
                binary(&format!("trellis-{}", kind.name())),
                &database.url,
                &env,
            )
            .await;
            databases.push(database);
            processes.push(process);
        }
        let mut processes = processes.into_iter();
        let mut next = || processes.next().expect("four processes");
        Self {
            library: next(),
            imports: next(),
            tokens: next(),
            refresh: next(),
            _databases: databases,
        }
    }

    pub fn channel(&self, kind: ServiceKind) -> TracedChannel {
        let process = match kind {
            ServiceKind::Library => &self.library,
            ServiceKind::Imports => &self.imports,
            ServiceKind::Tokens => &self.tokens,
            ServiceKind::Refresh => &self.refresh,
        };
        client::channel(&process.url()).expect("a channel")
    }
}

/// A client of each service of a [`Cluster`].
pub struct Clients {
    /// The library's channel, for what takes one (memberships made as an operator would).
    pub library_channel: TracedChannel,
    pub library: LibraryServiceClient<TracedChannel>,
    pub imports: ImportServiceClient<TracedChannel>,
    pub tokens: TokenServiceClient<TracedChannel>,
    pub refresh: RefreshServiceClient<TracedChannel>,
}

impl Clients {
    pub fn of(cluster: &Cluster) -> Self {
        Self {
            library_channel: cluster.channel(ServiceKind::Library),
            library: LibraryServiceClient::new(cluster.channel(ServiceKind::Library)),
            imports: ImportServiceClient::new(cluster.channel(ServiceKind::Imports)),
            tokens: TokenServiceClient::new(cluster.channel(ServiceKind::Tokens)),
            refresh: RefreshServiceClient::new(cluster.channel(ServiceKind::Refresh)),
        }
    }
}

/// The migrations of `kind`.
pub fn schema(kind: ServiceKind) -> Schema {
    match kind {
        ServiceKind::Library => trellis_library::SCHEMA,
        ServiceKind::Imports => trellis_imports::SCHEMA,
        ServiceKind::Tokens => trellis_tokens::SCHEMA,
        ServiceKind::Refresh => trellis_refresh::SCHEMA,
    }
}

/// A loopback address nothing listens on right now. The services are told their peers'
/// addresses before any of them binds, so the ports are chosen here and released.
fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}
