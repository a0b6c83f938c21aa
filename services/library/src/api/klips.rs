//! Klips: CreateKlip, GetKlip, ListKlips, UpdateKlip, DeleteKlip.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;

use super::klip_wire::{bindings, components, to_proto};
use super::mask::Mask;
use crate::app::access::{self, Need};
use crate::app::klips as app;
use crate::app::pages::Pager;
use crate::domain::klip::KlipDefinition;
use crate::domain::stored::Klip;

pub async fn create(
    pool: &DbPool,
    caller: &Caller,
    request: pb::CreateKlipRequest,
) -> ApiResult<pb::CreateKlipResponse> {
    let key = RequestKey::new(caller, "CreateKlip", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.klip.unwrap_or_default();
    let mut violations = Violations::new();
    let definition = KlipDefinition {
        name: wanted.name.clone(),
        components: components(&wanted.components),
        bindings: bindings(&mut violations, "klip", &wanted.bindings),
    };
    let variables = app::check(&definition, violations)?;

    replay::write(pool, &key, async |conn| {
        let created =
            app::create(conn, caller, &wanted.account_id, &definition, &variables).await?;
        Ok(pb::CreateKlipResponse {
            klip: Some(to_proto(&created)),
        })
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetKlipRequest,
) -> ApiResult<pb::GetKlipResponse> {
    let id = fields::id("id", &request.id)?;
    let found: Klip = crate::app::read(pool, caller, &request.account_id, &id).await?;
    Ok(pb::GetKlipResponse {
        klip: Some(to_proto(&found)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListKlipsRequest,
) -> ApiResult<pb::ListKlipsResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let data_source = fields::optional_id("data_source_id", &request.data_source_id)?;
    let (klips, next_page_token) = crate::app::list::<Klip, _>(
        pool,
        caller,
        &request.account_id,
        data_source,
        pager,
        to_proto,
    )
    .await?;
    Ok(pb::ListKlipsResponse {
        klips,
        next_page_token,
    })
}

pub async fn update(
    pool: &DbPool,
    caller: &Caller,
    request: pb::UpdateKlipRequest,
) -> ApiResult<pb::UpdateKlipResponse> {
    let key = RequestKey::new(caller, "UpdateKlip", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.klip.unwrap_or_default();
    let id = fields::id("klip.id", &wanted.id)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &[
            ("name", !wanted.name.is_empty()),
            ("components", !wanted.components.is_empty()),
            ("bindings", !wanted.bindings.is_empty()),
        ],
    )?;
    // The caller's fields over the current definition.
    let change = |current: &KlipDefinition, violations: &mut Violations| {
        let mut next = current.clone();
        if mask.has("name") {
            next.name = wanted.name.clone();
        }
        if mask.has("components") {
            next.components = components(&wanted.components);
        }
        if mask.has("bindings") {
            next.bindings = bindings(violations, "klip", &wanted.bindings);
        }
        next
    };

    replay::write(pool, &key, async |conn| {
        let updated =
            app::update(conn, caller, &wanted.account_id, (id, &wanted.etag), change).await?;
        Ok(pb::UpdateKlipResponse {
            klip: Some(to_proto(&updated)),
        })
    })
    .await
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteKlipRequest,
) -> ApiResult<pb::DeleteKlipResponse> {
    let key = RequestKey::new(caller, "DeleteKlip", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let id = fields::id("id", &request.id)?;

    replay::write(pool, &key, async |conn| {
        app::delete(conn, caller, &request.account_id, (id, &request.etag)).await?;
        Ok(pb::DeleteKlipResponse {})
    })
    .await
}
