//! The library service. See DESIGN.md section 2 for what it owns.
//!
//! - `api`: the gRPC handlers (authorize, validate, call the domain and the store).
//! - `domain`: the rules as plain Rust (validation, templates, closures, clone plans).
//! - `store`: Diesel queries, one module per table group, and transactions.

pub mod api;
pub mod domain;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::{NoSettings, ServiceContext};
use trellis_proto::library::v1::library_service_server::LibraryServiceServer;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "library",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

/// The service's own settings, beside the common ones.
pub type Settings = NoSettings;

/// The server with this service's handlers behind token verification.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    let handlers = api::LibraryApi::new(&context);
    Ok(context
        .server()
        .add_service(LibraryServiceServer::with_interceptor(
            handlers,
            context.authenticator.clone(),
        )))
}
