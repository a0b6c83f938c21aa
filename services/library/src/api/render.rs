//! RenderKlip and ViewEmbed: Klips evaluated over the refresh service's cached data.

use std::sync::Arc;

use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;

use super::render_wire::{rendered_klip, std_duration};
use crate::app::access::{self, Need};
use crate::render::Renderer;

/// Members of the account (viewers too) and services render; nothing is queued and no
/// activity is recorded.
pub async fn render(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::RenderKlipRequest,
) -> ApiResult<pb::RenderKlipResponse> {
    let klip_id = fields::id("klip_id", &request.klip_id)?;
    let user = access::user(caller, &request.user_id)?;
    let account = {
        let mut conn = trellis_platform::db::connect(renderer.pool()).await?;
        access::Target::new(&request.account_id, "account_id", Need::Read)
            .resolve(&mut conn, caller)
            .await?
    };
    let render = renderer.render(account, klip_id, user).await?;
    Ok(pb::RenderKlipResponse {
        rendered_klip: Some(rendered_klip(&render)),
    })
}

/// The public web tier, with a service token, serves an embed; the id is the capability.
pub async fn view_embed(
    renderer: &Arc<Renderer>,
    caller: &Caller,
    request: pb::ViewEmbedRequest,
) -> ApiResult<pb::ViewEmbedResponse> {
    caller.require_service()?;
    if request.embed_id.is_empty() {
        return Err(ApiError::invalid("embed_id", "is required"));
    }
    let view = renderer.view_embed(&request.embed_id).await?;
    Ok(pb::ViewEmbedResponse {
        rendered_klip: Some(rendered_klip(&view.render)),
        served_from_cache: view.served_from_cache,
        cache_age: Some(std_duration(view.cache_age)),
        revalidating: view.revalidating,
    })
}
