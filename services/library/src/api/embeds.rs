//! Embeds (F6): CreateEmbed, GetEmbed, ListEmbeds, DeleteEmbed. ViewEmbed is in `render`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;

use super::render_wire::embed as to_proto;
use crate::app::access::{self, Need};
use crate::app::pages::Pager;
use crate::domain::embed::{check_max_age, is_embed_id, new_embed_id};
use crate::domain::stored::Embed;
use crate::render::Renderer;
use crate::store::embeds::NewEmbed;
use crate::store::{embeds, klips};

/// An embed id the caller named: required; an id of the wrong shape cannot exist.
fn embed_id<'a>(field: &str, id: &'a str) -> ApiResult<&'a str> {
    if id.is_empty() {
        return Err(ApiError::invalid(field, "is required"));
    }
    if !is_embed_id(id) {
        return Err(ApiError::not_found("embed", id));
    }
    Ok(id)
}

fn max_age(wanted: Option<&prost_types::Duration>, limit: Duration) -> ApiResult<Option<Duration>> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let field = "embed.max_age";
    if wanted.seconds < 0 || wanted.nanos < 0 || wanted.nanos >= 1_000_000_000 {
        return Err(ApiError::invalid(field, "must be a positive duration"));
    }
    let age = Duration::new(wanted.seconds as u64, wanted.nanos as u32);
    check_max_age(age, limit).map_err(|problem| ApiError::invalid(field, problem))?;
    // Kept to the millisecond.
    Ok(Some(Duration::from_millis(age.as_millis() as u64)))
}

pub async fn create(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::CreateEmbedRequest,
) -> ApiResult<pb::CreateEmbedResponse> {
    let key = RequestKey::new(caller, "CreateEmbed", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.embed.unwrap_or_default();
    let klip_id = fields::id("embed.klip_id", &wanted.klip_id)?;
    let max_age = max_age(
        wanted.max_age.as_ref(),
        renderer.settings().embed_max_age_limit,
    )?;

    replay::write(renderer.pool(), &key, async |conn| {
        let account = access::Target::new(&wanted.account_id, "embed.account_id", Need::Write)
            .resolve(conn, caller)
            .await?;
        // Kept from being deleted until the embed is in.
        if klips::existing(conn, account, &BTreeSet::from([klip_id]))
            .await?
            .is_empty()
        {
            return Err(ApiError::not_found("Klip", klip_id));
        }
        let created = embeds::insert(
            conn,
            &NewEmbed {
                id: new_embed_id(),
                account_id: account,
                klip_id,
                stale_while_revalidate: wanted.stale_while_revalidate,
                max_age,
            },
        )
        .await?;
        Ok(pb::CreateEmbedResponse {
            embed: Some(to_proto(&created)),
        })
    })
    .await
}

pub async fn get(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::GetEmbedRequest,
) -> ApiResult<pb::GetEmbedResponse> {
    let id = embed_id("id", &request.id)?;
    let found: Embed = crate::app::read(renderer.pool(), caller, &request.account_id, id).await?;
    Ok(pb::GetEmbedResponse {
        embed: Some(to_proto(&found)),
    })
}

pub async fn list(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::ListEmbedsRequest,
) -> ApiResult<pb::ListEmbedsResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let klip = fields::optional_id("klip_id", &request.klip_id)?;
    let (mut conn, account) = access::reading(renderer.pool(), caller, &request.account_id).await?;
    let (embeds, next_page_token) = pager
        .fill(
            &mut conn,
            |e| e.seq,
            to_proto,
            |conn, after, limit| Box::pin(embeds::list(conn, account, klip, after, limit)),
        )
        .await?;
    Ok(pb::ListEmbedsResponse {
        embeds,
        next_page_token,
    })
}

/// Revokes an embed: later views are NOT_FOUND and its render cache is gone.
pub async fn delete(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::DeleteEmbedRequest,
) -> ApiResult<pb::DeleteEmbedResponse> {
    let key = RequestKey::new(caller, "DeleteEmbed", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let id = embed_id("id", &request.id)?;

    replay::write(renderer.pool(), &key, async |conn| {
        let what = (id, request.etag.as_str());
        crate::app::delete::<Embed>(conn, caller, &request.account_id, what, Need::Write).await?;
        Ok(pb::DeleteEmbedResponse {})
    })
    .await
}
