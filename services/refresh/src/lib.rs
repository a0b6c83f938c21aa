//! The refresh service. See DESIGN.md section 2 for what it owns.
//!
//! - `api`: the gRPC handlers (authorize, validate, call the domain).

pub mod api;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::{NoSettings, ServiceContext};
use trellis_proto::refresh::v1::refresh_service_server::RefreshServiceServer;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "refresh",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

/// The service's own settings, beside the common ones.
pub type Settings = NoSettings;

/// The server with this service's handlers behind token verification.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    let handlers = api::RefreshApi::new(&context);
    Ok(context
        .server()
        .add_service(RefreshServiceServer::with_interceptor(
            handlers,
            context.authenticator.clone(),
        )))
}
