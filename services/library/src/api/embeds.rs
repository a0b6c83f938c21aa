//! Embeds (F6): CreateEmbed, GetEmbed, ListEmbeds, DeleteEmbed. ViewEmbed is in `render`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::pagination::PageRequest;
use trellis_proto::library::v1 as pb;

use super::access::{self, Need};
use super::convert::{parse_id, parse_optional_id};
use super::pages::Pager;
use super::render_wire::embed as to_proto;
use super::replay::{self, RequestKey};
use crate::domain::embed::{check_max_age, is_embed_id, new_embed_id};
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
    let klip_id = parse_id("embed.klip_id", &wanted.klip_id)?;
    let max_age = max_age(
        wanted.max_age.as_ref(),
        renderer.settings().embed_max_age_limit,
    )?;

    replay::write(renderer.pool(), &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "embed.account_id",
            Need::Write,
        )
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
    let (mut conn, account) = access::reading(renderer.pool(), caller, &request.account_id).await?;
    let found = embeds::get(&mut conn, account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("embed", id))?;
    Ok(pb::GetEmbedResponse {
        embed: Some(to_proto(&found)),
    })
}

pub async fn list(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::ListEmbedsRequest,
) -> ApiResult<pb::ListEmbedsResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let after = page
        .after
        .as_deref()
        .map(|key| {
            key.parse::<i64>()
                .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
        })
        .transpose()?;
    let klip = parse_optional_id("klip_id", &request.klip_id)?;
    let (mut conn, account) = access::reading(renderer.pool(), caller, &request.account_id).await?;
    let mut pager = Pager::new(&page, after);
    while let Some((after, limit)) = pager.next_query() {
        let rows = embeds::list(&mut conn, account, klip, after, limit).await?;
        pager.add(rows, |e| e.seq, to_proto);
    }
    let (embeds, next_page_token) = pager.finish(i64::to_string);
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
        let account =
            access::account(conn, caller, &request.account_id, "account_id", Need::Write).await?;
        let current = embeds::get_for_update(conn, account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("embed", id))?;
        replay::require_etag(&request.etag, &current.etag(), "embed")?;
        embeds::delete(conn, account, id).await?;
        Ok(pb::DeleteEmbedResponse {})
    })
    .await
}
