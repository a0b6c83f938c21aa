//! Rendering Klips and serving embeds: the work that joins the library's own data (Klips,
//! data sources, property values) with the refresh service's data cache.
//!
//! - [`Renderer::render`]: RenderKlip, and every render an embed needs (`bindings` resolves
//!   and reads each binding's data, the domain evaluates).
//! - `embed_view`: ViewEmbed and the embed render cache (F6).
//! - `evaluation`: the evaluation itself, on a blocking thread that stops when its caller
//!   has gone, counted in [`RenderCounters`].

mod bindings;
mod embed_view;
mod evaluation;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use trellis_platform::background::Background;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::service::ServiceContext;
use uuid::Uuid;

use crate::Settings;
use crate::cached_data::{MAX_RENDER_CACHED_BYTES, RefreshClient};
use crate::clock::Clock;
use crate::domain::render::Render;
use crate::store::{self, klips};
use crate::token_registry::TokenRegistry;

pub use embed_view::EmbedView;
pub use evaluation::RenderCounters;

pub struct Renderer {
    pool: DbPool,
    refresh: RefreshClient,
    registry: Arc<TokenRegistry>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    counters: Arc<RenderCounters>,
    /// Turns to evaluate: `render_concurrency` renders at once.
    turns: Arc<tokio::sync::Semaphore>,
    /// Where background re-renders run, so that a stopping server lets them finish.
    background: Background,
}

impl Renderer {
    /// The renderer of the service `context` runs, reaching refresh and the token registry,
    /// counting its evaluations in `counters`.
    pub fn new(
        context: &ServiceContext<Settings>,
        peers: (RefreshClient, Arc<TokenRegistry>),
        clock: Arc<dyn Clock>,
        counters: Arc<RenderCounters>,
    ) -> Self {
        let settings = context.settings.clone();
        let turns = Arc::new(tokio::sync::Semaphore::new(
            settings.render_concurrency.max(1),
        ));
        let (refresh, registry) = peers;
        Self {
            turns,
            pool: context.pool.clone(),
            background: context.background.clone(),
            refresh,
            registry,
            clock,
            settings,
            counters,
        }
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock renders and data-source resolutions read.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The render clock, to the microsecond that PostgreSQL keeps.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Renders the account's Klip with `user`'s property values (none: company properties
    /// and variable defaults only), over the data currently cached for the instances those
    /// values select (I13). Never queues a refresh.
    pub async fn render(
        &self,
        account: Uuid,
        klip_id: Uuid,
        user: Option<&str>,
    ) -> ApiResult<Render> {
        // The library's part first, then the connection goes back before calling out.
        let (klip, sources, plans) = {
            let mut conn = trellis_platform::db::connect(&self.pool).await?;
            let klip = klips::get(&mut conn, account, klip_id)
                .await?
                .ok_or_else(|| ApiError::not_found("Klip", klip_id))?;
            let sources = store::properties::sources(&mut conn, account, user).await?;
            let owner = crate::app::resolving::account(&mut conn, account).await?;
            let plans = bindings::plan(&mut conn, (&owner, self.now()), &klip, &sources).await?;
            (klip, sources, plans)
        };
        let plans = bindings::without_revoked(&self.registry, account, plans).await?;
        let bound = bindings::read(
            &self.refresh,
            account,
            plans,
            self.settings.render_fetch_concurrency,
            MAX_RENDER_CACHED_BYTES,
        )
        .await?;
        let variables = klip
            .variables
            .iter()
            .filter_map(|name| {
                sources
                    .resolve(name)
                    .map(|property| (name.clone(), property.value))
            })
            .collect();
        let now = self.now();
        evaluation::evaluate(
            klip,
            bound,
            variables,
            now,
            (
                self.settings.formula_budget(),
                self.settings.render_budget(),
            ),
            self.turns.clone(),
            self.counters.clone(),
        )
        .await
    }
}
