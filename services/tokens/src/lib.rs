//! The tokens service: OAuth providers, tokens (connected accounts), token grants, saved
//! credentials, exactly-once refresh (DESIGN.md sections 2–5; rules I5, I6, T1–T3).
//!
//! - `api`: the gRPC handlers: authorize, read the request into typed values, call a use
//!   case, convert the answer.
//! - `app`: the use cases, one per RPC, over the stores, the domain and the peers;
//!   exactly-once refresh.
//! - `domain`: the rules in plain Rust: sealing, the code flow, the T2 count, usage (T3).
//! - `store`: Diesel queries and transactions, one module per table group; `store::schema`.
//! - `peers`: the library service, and the providers' endpoints through the oauth2 crate.
//! - `crypto`, `secret`: secrets sealed at rest, and redacted in memory.
//! - `providers_catalogue`: the `catalogue` command, which loads the provider catalogue.
//!
//! docs/tokens.md tells the design in prose.

pub mod api;
pub mod app;
pub mod crypto;
pub mod domain;
pub mod peers;
pub mod providers_catalogue;
pub mod secret;
pub mod settings;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::client;
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;
use trellis_proto::tokens::v1::token_service_server::TokenServiceServer;

pub use settings::Settings;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "tokens",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

/// The server with this service's handlers behind token verification.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    let keyring = context.settings.keyring()?;
    if keyring.is_development() {
        anyhow::ensure!(
            context.common.development,
            "TRELLIS_TOKENS_ENCRYPTION_KEYS is not set: secrets would be sealed with the public \
             development key. Set keys (`kid:base64 of 32 random bytes`, comma-separated) or \
             TRELLIS_DEVELOPMENT=true to run on the development key"
        );
        tracing::warn!(
            "TRELLIS_TOKENS_ENCRYPTION_KEYS is not set: secrets are encrypted with the development key (development mode)"
        );
    }
    let pool_size = context.pool.status().max_size;
    anyhow::ensure!(
        pool_size >= app::access::MIN_POOL_SIZE,
        "the tokens service needs a pool of at least {} database connections \
         (TRELLIS_DB_POOL_SIZE is {pool_size}): a token refresh holds one through its lock \
         wait and its call to the provider, and other calls need another",
        app::access::MIN_POOL_SIZE
    );
    let oauth = peers::oauth::OAuthClient::new(context.settings.provider_timeout())?;
    let library = peers::library::Library::new(
        client::channel(&context.common.library_url)?,
        context.service_tokens.clone(),
    );
    let access = app::access::AccessTokens::new(
        context.pool.clone(),
        keyring.clone(),
        oauth.clone(),
        context.settings.refresh_window(),
        // Long enough for the holder's call to the provider, short of the request timeout.
        context.settings.provider_timeout() * 2,
    );
    let running = access.clone();
    let handlers = api::TokensApi {
        app: app::App {
            pool: context.pool.clone(),
            keyring,
            oauth,
            settings: context.settings.clone(),
            access,
            library,
        },
    };
    let gate = context.gate()?;
    // A refresh whose callers have gone still stores what the provider answered, also when
    // the process is stopping: the slowest takes a lock wait and a provider call.
    let drain_within = context.settings.provider_timeout() * 4;
    Ok(context
        .server()
        .add_service(gate.guard(TokenServiceServer::new(handlers)))
        .finish_on_stop("token refreshes", drain_within, move || running.drain()))
}
