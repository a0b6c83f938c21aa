//! Serving an embed (F6): the cached render while it is younger than the embed's max age,
//! otherwise a render from the currently cached data, kept for the next views. A view never
//! queues a refresh and is not activity: it only reads the data cache.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;
use trellis_platform::error::{ApiError, ApiResult};

use super::Renderer;
use crate::domain::embed::{CacheVerdict, is_embed_id, verdict};
use crate::domain::render::Render;
use crate::domain::stored::Embed;
use crate::store::embeds;

/// What a view is served.
#[derive(Debug, Clone)]
pub struct EmbedView {
    pub render: Render,
    pub served_from_cache: bool,
    /// The served render's age.
    pub cache_age: Duration,
    /// A stale render was served and a re-render runs in the background.
    pub revalidating: bool,
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found("embed", id)
}

impl Renderer {
    /// Serves a view of the embed `id`. A revoked or unknown id is NOT_FOUND.
    pub async fn view_embed(self: &Arc<Self>, id: &str) -> ApiResult<EmbedView> {
        if !is_embed_id(id) {
            return Err(unknown(id));
        }
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        let found = embeds::for_view(&mut conn, id)
            .await?
            .ok_or_else(|| unknown(id))?;
        let now = self.now();
        let max_age = found.embed.max_age.unwrap_or(self.settings.embed_max_age);
        let (cached_render, render) = match found.cached {
            Some((cached, render)) => (Some(cached), Some(render)),
            None => (None, None),
        };
        match (
            verdict(cached_render, found.klip_version, now, max_age),
            render,
        ) {
            (CacheVerdict::Fresh { age }, Some(render)) => Ok(EmbedView {
                render,
                served_from_cache: true,
                cache_age: age,
                revalidating: false,
            }),
            (CacheVerdict::Stale { age }, Some(render)) if found.embed.stale_while_revalidate => {
                // One re-render per lease, whichever replica the views reach.
                let lease = self.settings.embed_revalidation_lease;
                if embeds::claim_revalidation(&mut conn, id, now, lease).await? {
                    self.revalidate(found.embed);
                }
                Ok(EmbedView {
                    render,
                    served_from_cache: true,
                    cache_age: age,
                    revalidating: true,
                })
            }
            (verdict, stale) => {
                drop(conn);
                match self.render_embed(&found.embed).await {
                    Ok(render) => Ok(EmbedView {
                        render,
                        served_from_cache: false,
                        cache_age: Duration::ZERO,
                        revalidating: false,
                    }),
                    // The data cache is unreachable: an old render beats no render.
                    Err(ApiError::Unavailable(reason)) => match stale {
                        Some(render) => {
                            tracing::warn!(embed = id, %reason, "serving a stale render: rendering failed");
                            let age = match verdict {
                                CacheVerdict::Fresh { age } | CacheVerdict::Stale { age } => age,
                                CacheVerdict::Missing => Duration::ZERO,
                            };
                            Ok(EmbedView {
                                render,
                                served_from_cache: true,
                                cache_age: age,
                                revalidating: false,
                            })
                        }
                        None => Err(ApiError::Unavailable(reason)),
                    },
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Renders the embed's Klip as an anonymous viewer sees it (no user: company properties
    /// and variable defaults) and keeps the render.
    async fn render_embed(&self, embed: &Embed) -> ApiResult<Render> {
        let render = self
            .render(embed.account_id, embed.klip_id, None)
            .await
            .map_err(|error| match error {
                // The Klip went, and its embeds with it.
                ApiError::NotFound { .. } => unknown(&embed.id),
                other => other,
            })?;
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        if embeds::store_render(&mut conn, &embed.id, &render).await? {
            Ok(render)
        } else {
            Err(unknown(&embed.id))
        }
    }

    /// Re-renders in the background (stale-while-revalidate). A failure leaves the stale
    /// render in place; the next view after the lease tries again.
    fn revalidate(self: &Arc<Self>, embed: Embed) {
        let renderer = Arc::clone(self);
        let span = tracing::info_span!("revalidate embed", embed = %embed.id);
        let background = renderer.background.clone();
        background.spawn(
            "revalidate embed",
            async move {
                if let Err(error) = renderer.render_embed(&embed).await {
                    tracing::warn!(error = ?error, "background re-render of an embed failed");
                }
            }
            .instrument(span),
        );
    }
}
