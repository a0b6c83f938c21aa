//! Klips: CreateKlip, GetKlip, ListKlips, UpdateKlip, DeleteKlip.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::access::{self, Need};
use super::convert::{page, parse_id, parse_optional_id};
use super::klip_wire::{bindings, check_bindings, components, to_proto};
use super::mask::Mask;
use super::pages::Pager;
use super::replay::{self, RequestKey};
use crate::domain::klip::KlipDefinition;
use crate::store::{dashboards, klips};

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
    let variables = definition.check(&mut violations, "klip");
    violations.into_result()?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "klip.account_id",
            Need::Write,
        )
        .await?;
        let mut violations = Violations::new();
        check_bindings(conn, &mut violations, account, "klip", &definition).await?;
        violations.into_result()?;
        let created = klips::insert(conn, Uuid::now_v7(), account, &definition, &variables).await?;
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
    let id = parse_id("id", &request.id)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let found = klips::get(&mut conn, account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Klip", id))?;
    Ok(pb::GetKlipResponse {
        klip: Some(to_proto(&found)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListKlipsRequest,
) -> ApiResult<pb::ListKlipsResponse> {
    let (page, after) = page(request.page_size, &request.page_token)?;
    let data_source = parse_optional_id("data_source_id", &request.data_source_id)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let mut pager = Pager::new(&page, after);
    while let Some((after, limit)) = pager.next_query() {
        let rows = klips::list(&mut conn, account, data_source, after, limit).await?;
        pager.add(rows, |k| k.id, to_proto);
    }
    let (klips, next_page_token) = pager.finish(Uuid::to_string);
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
    let id = parse_id("klip.id", &wanted.id)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &["name", "components", "bindings"],
        || {
            let mut set = vec![];
            if !wanted.name.is_empty() {
                set.push("name");
            }
            if !wanted.components.is_empty() {
                set.push("components");
            }
            if !wanted.bindings.is_empty() {
                set.push("bindings");
            }
            set
        },
    )?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "klip.account_id",
            Need::Write,
        )
        .await?;
        let current = klips::get_for_update(conn, account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Klip", id))?;
        replay::require_etag(&wanted.etag, &current.etag(), "Klip")?;
        let mut violations = Violations::new();
        let mut next = current.definition.clone();
        if mask.has("name") {
            next.name = wanted.name.clone();
        }
        if mask.has("components") {
            next.components = components(&wanted.components);
        }
        if mask.has("bindings") {
            next.bindings = bindings(&mut violations, "klip", &wanted.bindings);
        }
        let variables = next.check(&mut violations, "klip");
        violations.into_result()?;
        let mut violations = Violations::new();
        check_bindings(conn, &mut violations, account, "klip", &next).await?;
        violations.into_result()?;
        let updated = if next == current.definition {
            current
        } else {
            klips::overwrite(conn, account, id, &next, &variables).await?
        };
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
    let id = parse_id("id", &request.id)?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::account(conn, caller, &request.account_id, "account_id", Need::Write).await?;
        let current = klips::get_for_update(conn, account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Klip", id))?;
        replay::require_etag(&request.etag, &current.etag(), "Klip")?;
        // The dashboards showing it lose it (the foreign key cascades): a change of theirs.
        // Its embeds go the same way, revoked with their render caches (F6).
        dashboards::touch_showing(conn, id).await?;
        klips::delete(conn, account, id).await?;
        Ok(pb::DeleteKlipResponse {})
    })
    .await
}
