//! The refresh service (DESIGN.md sections 2 and 7; rules F1–F5, F7, F8, I13): activity per
//! account, the global refresh queue in PostgreSQL, API-limit deferral, fetching, the data
//! cache and scheduled email reports. docs/refresh.md describes the design.
//!
//! - `api`: the gRPC handlers (authorize, check, call the use case, convert).
//! - `app`: the use cases, one function per RPC's work; `scheduler`: which instances are
//!   queued when (F1, F2, F4).
//! - `worker`: claiming, limits, fetching and settling jobs (F3, F5, F8).
//! - `domain`: plain rules and values: jobs and instances, backoff after failures (F8), the
//!   arithmetic of API limits (F5), report schedules and cron expressions (F7), time sums.
//! - `fetch`: the HTTP client with its SSRF guard, and the parsing of what it fetched.
//! - `reports`: scheduled email reports (F7): the report loop, the email, SMTP.
//! - `peers`: the library and the token registry, and their answers read into `domain`.
//! - `trace`: the trace context a job carries from the call that queued it to its fetch.
//! - `store`: the Diesel rows, queries and transactions, and the schema (`store::schema`).
//! - `faults` (feature `fault-injection`, tests only): faults a test can cause on purpose.

pub mod api;
pub mod app;
pub mod domain;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod fetch;
pub mod peers;
pub mod reports;
pub mod scheduler;
pub mod settings;
pub mod store;
pub mod trace;
pub mod worker;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use trellis_platform::db::Schema;
use trellis_platform::server::GrpcServer;
use trellis_platform::service::ServiceContext;
use trellis_proto::refresh::v1::refresh_service_server::RefreshServiceServer;

pub use settings::Settings;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub const SCHEMA: Schema = Schema {
    service: "refresh",
    migrations: || MIGRATIONS,
    migrations_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
};

/// The server with this service's handlers behind token verification, and the replica's
/// scheduler, workers and report loop running beside it.
pub async fn build(context: ServiceContext<Settings>) -> anyhow::Result<GrpcServer> {
    let settings = context.settings.clone();
    let peers = Arc::new(peers::Peers::new(
        &context.common,
        context.service_tokens.clone(),
        settings.limits_cache,
    )?);

    // Every loop runs under the server's background: stopping drains them.
    let background = context.background.clone();
    background.spawn(
        "refresh scheduler",
        scheduler::run(
            context.pool.clone(),
            peers.clone(),
            settings.clone(),
            background.clone(),
        ),
    );
    if settings.workers > 0 {
        let workers = Arc::new(worker::WorkerContext {
            pool: context.pool.clone(),
            peers: peers.clone(),
            fetcher: fetch::Fetcher::new(&settings)?,
            policy: settings.backoff_policy(),
            settings: settings.clone(),
            owner: format!(
                "{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            background: background.clone(),
        });
        worker::spawn(workers, context.common.database_url(context.kind));
    }

    let reports_wake = Arc::new(tokio::sync::Notify::new());
    let reports = Arc::new(reports::ReportContext {
        pool: context.pool.clone(),
        peers: peers.clone(),
        mailer: reports::mailer::Mailer::new(&settings)?,
        settings: settings.clone(),
    });
    background.spawn(
        "report loop",
        reports::run(reports, reports_wake.clone(), background.clone()),
    );

    // No answer may be larger than a client decodes: GetCachedData keeps to the cached-data
    // limit (and refuses an entry past it), everything else is paged far below this.
    let max_answer = api::max_answer_bytes(&settings);
    let handlers = api::RefreshApi::new(context.pool.clone(), peers, settings, reports_wake);
    let gate = context.gate()?;
    Ok(context.server().add_service(
        gate.guard(RefreshServiceServer::new(handlers).max_encoding_message_size(max_answer)),
    ))
}
