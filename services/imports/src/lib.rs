//! The imports service (DESIGN.md sections 2, 4 and 5; rules I1–I13): import plans, the
//! crash-safe import saga, master → instance links, instance status, updating instances and
//! re-importing them. docs/imports.md tells the design in prose.
//!
//! - `api`: the gRPC handlers (authorize, validate, call the use cases below).
//! - `planning`, `saga`, `observe`, `updating`, `reimport`, `cleanup`: the use cases, over
//!   the library and token services (`peers`) and this service's own tables (`store`).
//! - `domain`: the rules as plain Rust (families, plan warnings, statuses, drift).
//! - `store`: Diesel queries and transactions, one module per table group.

pub mod api;
pub mod cleanup;
pub mod domain;
pub mod observe;
pub mod peers;
pub mod planning;
pub mod reimport;
pub mod saga;
pub mod schema;
pub mod settings;
pub mod store;
pub mod updating;

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
    if context.settings.fail_after_step.is_some() {
        tracing::warn!(
            step = ?context.settings.fail_after_step,
            "TRELLIS_IMPORTS_FAIL_AFTER_STEP is set: the process aborts mid-import (test only)"
        );
    }
    if context.settings.execute_wait_secs > settings::MAX_EXECUTE_WAIT_SECS {
        tracing::warn!(
            configured = context.settings.execute_wait_secs,
            taken = settings::MAX_EXECUTE_WAIT_SECS,
            "TRELLIS_IMPORTS_EXECUTE_WAIT_SECS is over its maximum; the maximum is taken"
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
    let saga = Arc::new(saga::Saga {
        pool: context.pool.clone(),
        locks: store::saga_lock::SagaLocks::new(context.pool.clone()),
        peers: peers.clone(),
        settings: context.settings.clone(),
    });
    tokio::spawn(saga::recover(
        saga.clone(),
        context.settings.recovery_interval(),
    ));
    let handlers = api::ImportsApi {
        pool: context.pool.clone(),
        peers,
        saga,
        settings: context.settings.clone(),
    };
    let gate = context.gate()?;
    Ok(context
        .server()
        .add_service(gate.guard(ImportServiceServer::new(handlers))))
}
