//! The command line every service binary shares: `serve` (the default) and `migrate`.
//!
//! A service's `main` hands [`run`] its [`ServiceKind`], its [`Schema`] and a function that
//! builds its [`GrpcServer`] from a [`ServiceContext`]; the test kit builds the same context
//! to run the service in-process.

use std::future::Future;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::auth::{self, Authenticator, Identity, ServiceTokens, TokenMinter};
use crate::background::Background;
use crate::config::{CommonConfig, ServiceKind};
use crate::db::{self, DbPool, Schema};
use crate::gate::{Gate, LibraryMemberships, MembershipCache, MembershipDirectory};
use crate::server::{GrpcServer, shutdown_signal};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(version, about = "A Trellis service")]
pub struct Cli<E: Args> {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub common: CommonConfig,
    #[command(flatten)]
    pub extra: E,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Serve gRPC until SIGTERM or Ctrl-C (the default).
    Serve,
    /// Apply pending migrations to the service's database and exit.
    Migrate,
}

/// A service without settings of its own.
#[derive(Debug, Clone, Default, Args)]
pub struct NoSettings {}

/// What a service needs to build its handlers.
#[derive(Clone)]
pub struct ServiceContext<E> {
    pub kind: ServiceKind,
    pub common: CommonConfig,
    pub settings: E,
    pub pool: DbPool,
    pub authenticator: Authenticator,
    /// Signs as this service's own identity.
    pub minter: TokenMinter,
    /// This service's tokens for calls to the others, cached.
    pub service_tokens: ServiceTokens,
    /// The service's background loops; the server drains them when it stops.
    pub background: Background,
}

impl<E> ServiceContext<E> {
    pub fn new(
        kind: ServiceKind,
        common: CommonConfig,
        settings: E,
        pool: DbPool,
    ) -> anyhow::Result<Self> {
        let authenticator = Authenticator::from_config(&common, kind)?;
        let minter = TokenMinter::from_config(&common, Identity::of(kind))?;
        Ok(Self {
            kind,
            common,
            settings,
            pool,
            authenticator,
            service_tokens: ServiceTokens::new(minter.clone()),
            minter,
            background: Background::new(),
        })
    }

    /// The gate that checks memberships with the library service.
    pub fn gate(&self) -> anyhow::Result<Gate> {
        let directory =
            LibraryMemberships::new(&self.common.library_url, self.service_tokens.clone())?;
        Ok(self.gate_with(Arc::new(directory)))
    }

    /// The gate over another membership directory (the library's own tables).
    pub fn gate_with(&self, directory: Arc<dyn MembershipDirectory>) -> Gate {
        let cache = MembershipCache::new(directory, self.common.membership_cache());
        Gate::new(self.authenticator.clone(), Arc::new(cache))
    }

    /// A server with this service's name, timeout, database readiness and background loops.
    pub fn server(&self) -> GrpcServer {
        GrpcServer::new(self.kind.name())
            .background(self.background.clone())
            .timeout(self.common.request_timeout())
            .readiness(self.pool.clone(), self.common.readiness_interval())
            .request_id_retention(self.pool.clone(), self.common.request_id_retention())
    }
}

/// Parses the command line and runs the chosen command.
pub async fn run<E, B, F>(kind: ServiceKind, schema: Schema, build: B) -> anyhow::Result<()>
where
    E: Args + Clone + Send + Sync + 'static,
    B: FnOnce(ServiceContext<E>) -> F,
    F: Future<Output = anyhow::Result<GrpcServer>>,
{
    let cli = Cli::<E>::parse();
    let _telemetry = telemetry::init(kind.name(), cli.common.log_format, &cli.common.log_filter);
    let database_url = cli.common.database_url(kind);

    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let applied = db::migrate(&database_url, &schema).await?;
            tracing::info!(service = kind.name(), applied = applied.len(), versions = ?applied, "migrations applied");
            Ok(())
        }
        Command::Serve => {
            auth::check_jwt_settings(&cli.common)?;
            if cli.common.migrate_at_start {
                let applied = db::migrate(&database_url, &schema).await?;
                tracing::info!(applied = applied.len(), "migrations applied at start");
            }
            let pool = db::pool(&database_url, cli.common.db_pool_size)?;
            let address = cli.common.listen_addr(kind);
            let context = ServiceContext::new(kind, cli.common, cli.extra, pool)?;
            let server = build(context).await?;
            let listener = TcpListener::bind(address).await?;
            server.serve(listener, shutdown_signal()).await
        }
    }
}
