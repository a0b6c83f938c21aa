//! The library service. See DESIGN.md section 2 for what it owns.
//!
//! - `api`: the gRPC handlers (read a request into typed values, call `app`, convert).
//! - `app`: the use cases, the work of each RPC, and who may act on which account.
//! - `domain`: the rules as plain Rust (validation, templates, closures, clone plans).
//! - `store`: Diesel queries, one module per table group, and transactions.
//! - `render`: rendering Klips over the refresh service's cached data (`cached_data`) and
//!   serving embeds from their render cache, on a [`Clock`] that tests control.

pub mod api;
pub mod app;
pub mod cached_data;
pub mod clock;
pub mod domain;
pub mod render;
pub mod settings;
pub mod store;
pub mod token_registry;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;
use trellis_proto::library::v1::library_service_server::LibraryServiceServer;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "library",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

pub use clock::{Clock, ManualClock, SystemClock};
pub use render::RenderCounters;
pub use settings::Settings;

/// The server with this service's handlers behind token verification.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    build_with(context, Arc::new(SystemClock)).await
}

/// [`build`] with another clock for rendering and the embed render cache (tests move it).
pub async fn build_with(
    context: ServiceContext<Settings>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<GrpcServer> {
    build_counted(context, clock, Arc::default()).await
}

/// [`build_with`], counting the renderer's evaluations in `counters` (tests read them).
pub async fn build_counted(
    context: ServiceContext<Settings>,
    clock: Arc<dyn Clock>,
    counters: Arc<RenderCounters>,
) -> anyhow::Result<GrpcServer> {
    let refresh = cached_data::RefreshClient::new(
        &context.common.refresh_url,
        context.service_tokens.clone(),
    )?;
    let registry = Arc::new(token_registry::TokenRegistry::new(
        &context.common.tokens_url,
        context.service_tokens.clone(),
    )?);
    let renderer = Arc::new(render::Renderer::new(
        &context,
        (refresh, registry.clone()),
        clock,
        counters,
    ));
    // The library answers membership checks from its own tables.
    let gate = context.gate_with(Arc::new(api::memberships::LocalMemberships {
        pool: context.pool.clone(),
    }));
    let handlers = api::LibraryApi::new(&context, renderer, registry, gate.memberships().clone());
    Ok(context
        .server()
        .add_service(gate.guard(LibraryServiceServer::new(handlers))))
}
