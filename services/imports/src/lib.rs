//! The imports service (DESIGN.md sections 2, 4 and 5; rules I1–I13): import plans, the
//! crash-safe import saga, master → instance links, instance status, updating instances and
//! re-importing them. docs/imports.md tells the design in prose.
//!
//! - `api`: the gRPC handlers (authorize, parse into typed requests, call the use cases
//!   below, convert their answers).
//! - `app`: the use cases (planning, the saga, statuses, updates, re-imports, removals),
//!   over the library and token services (`peers`) and this service's own tables (`store`).
//! - `domain`: the rules as plain Rust (families, plan warnings, statuses, drift).
//! - `store`: Diesel queries and transactions, one module per table group, and the schema.

pub mod api;
pub mod app;
pub mod domain;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod peers;
pub mod settings;
pub mod store;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;
use trellis_proto::imports::v1::import_service_server::ImportServiceServer;

pub use settings::Settings;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "imports",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

/// The server with this service's handlers behind token verification, and the recovery
/// loop that finishes interrupted imports running beside it.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    if context.settings.execute_wait > settings::MAX_EXECUTE_WAIT {
        tracing::warn!(
            configured = ?context.settings.execute_wait,
            taken = ?settings::MAX_EXECUTE_WAIT,
            "TRELLIS_IMPORTS_EXECUTE_WAIT is over its maximum; the maximum is taken"
        );
    }
    let pool_size = context.pool.status().max_size;
    anyhow::ensure!(
        pool_size >= store::saga_lock::MIN_POOL_SIZE,
        "the imports service needs a pool of at least {} database connections \
         (TRELLIS_DB_POOL_SIZE is {pool_size}): an import saga holds one for its lock and \
         takes another for each step",
        store::saga_lock::MIN_POOL_SIZE
    );
    let peers = peers::Peers::new(&context.common, context.service_tokens.clone())?;
    let saga = Arc::new(app::saga::Saga {
        pool: context.pool.clone(),
        locks: store::saga_lock::SagaLocks::new(context.pool.clone()),
        peers: peers.clone(),
        settings: context.settings.clone(),
    });
    context.background.spawn(
        "import recovery",
        app::saga::recover(
            saga.clone(),
            context.settings.recovery_interval(),
            context.background.clone(),
        ),
    );
    let handlers = api::ImportsApi {
        app: app::App {
            pool: context.pool.clone(),
            peers,
            saga,
            settings: context.settings.clone(),
        },
    };
    let gate = context.gate()?;
    Ok(context
        .server()
        .add_service(gate.guard(ImportServiceServer::new(handlers))))
}
