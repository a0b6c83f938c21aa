//! The tokens service: OAuth providers, tokens (connected accounts), token grants, saved
//! credentials, exactly-once refresh (DESIGN.md sections 2–5; rules I5, I6, T1–T3).
//!
//! - `api`: the gRPC handlers (authorize, validate, call the stores or the domain).
//! - `domain`: exactly-once refresh, the authorization code flow and the T2 count, usage.
//! - `store`: Diesel queries and transactions, one module per table group.
//! - `oauth`: the providers' endpoints, through the oauth2 crate.
//! - `crypto`, `secret`: secrets sealed at rest, and redacted in memory.
//!
//! docs/tokens.md tells the design in prose.

pub mod api;
pub mod convert;
pub mod crypto;
pub mod domain;
pub mod oauth;
pub mod schema;
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
        pool_size >= domain::access::MIN_POOL_SIZE,
        "the tokens service needs a pool of at least {} database connections \
         (TRELLIS_DB_POOL_SIZE is {pool_size}): a token refresh holds one through its lock \
         wait and its call to the provider, and other calls need another",
        domain::access::MIN_POOL_SIZE
    );
    let oauth = oauth::OAuthClient::new(context.settings.provider_timeout())?;
    let usage = domain::usage::UsageFinder::new(
        client::channel(&context.common.library_url)?,
        context.service_tokens.clone(),
    );
    let access = domain::access::AccessTokens::new(
        context.pool.clone(),
        keyring.clone(),
        oauth.clone(),
        context.settings.refresh_window(),
        // Long enough for the holder's call to the provider, short of the request timeout.
        context.settings.provider_timeout() * 2,
    );
    let authorizations = domain::authorization::Authorizations {
        pool: context.pool.clone(),
        keyring: keyring.clone(),
        oauth: oauth.clone(),
        settings: context.settings.clone(),
        usage: usage.clone(),
    };
    let running = access.clone();
    let handlers = api::TokensApi {
        pool: context.pool.clone(),
        keyring,
        access,
        authorizations,
        usage,
        oauth,
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
