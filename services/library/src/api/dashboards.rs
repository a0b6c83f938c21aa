//! Dashboards: CreateDashboard, GetDashboard, ListDashboards, UpdateDashboard,
//! DeleteDashboard.

use diesel_async::AsyncPgConnection;
use serde_json::Value;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::access::{self, Need};
use super::convert::{
    json_to_struct, page, parse_id, parse_optional_id, struct_to_json, timestamp,
};
use super::mask::Mask;
use super::pages::Pager;
use super::replay::{self, RequestKey};
use crate::domain::dashboard::DashboardDefinition;
use crate::domain::stored::Dashboard;
use crate::store::{dashboards, klips};

pub fn to_proto(dashboard: &Dashboard) -> pb::Dashboard {
    let definition = &dashboard.definition;
    pb::Dashboard {
        id: dashboard.id.to_string(),
        account_id: dashboard.account_id.to_string(),
        name: definition.name.clone(),
        klip_ids: definition.klip_ids.iter().map(Uuid::to_string).collect(),
        layout: Some(json_to_struct(&definition.layout)),
        version: dashboard.version,
        etag: dashboard.etag(),
        create_time: timestamp(dashboard.created_at),
        update_time: timestamp(dashboard.updated_at),
    }
}

fn klip_ids(violations: &mut Violations, ids: &[String]) -> Vec<Uuid> {
    ids.iter()
        .enumerate()
        .filter_map(|(i, text)| match Uuid::parse_str(text) {
            Ok(id) => Some(id),
            Err(_) => {
                violations.add(format!("dashboard.klip_ids[{i}]"), "must be a UUID");
                None
            }
        })
        .collect()
}

fn layout(layout: Option<&prost_types::Struct>) -> ApiResult<Value> {
    match layout {
        None => Ok(Value::Object(Default::default())),
        Some(layout) => struct_to_json("dashboard.layout", layout),
    }
}

/// Every Klip shown must be in the dashboard's account; the same description whether an id
/// exists elsewhere or not at all.
async fn check_klips(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    definition: &DashboardDefinition,
) -> ApiResult<()> {
    let wanted = definition.klip_ids.iter().copied().collect();
    let present = klips::existing(conn, account, &wanted).await?;
    let mut violations = Violations::new();
    for (i, id) in definition.klip_ids.iter().enumerate() {
        if !present.contains(id) {
            violations.add(
                format!("dashboard.klip_ids[{i}]"),
                format!("no Klip {id} in the dashboard's account"),
            );
        }
    }
    violations.into_result()
}

pub async fn create(
    pool: &DbPool,
    caller: &Caller,
    request: pb::CreateDashboardRequest,
) -> ApiResult<pb::CreateDashboardResponse> {
    let key = RequestKey::new(caller, "CreateDashboard", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.dashboard.unwrap_or_default();
    let mut violations = Violations::new();
    let definition = DashboardDefinition {
        name: wanted.name.clone(),
        klip_ids: klip_ids(&mut violations, &wanted.klip_ids),
        layout: layout(wanted.layout.as_ref())?,
    };
    definition.check(&mut violations, "dashboard");
    violations.into_result()?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "dashboard.account_id",
            Need::Write,
        )
        .await?;
        check_klips(conn, account, &definition).await?;
        let created = dashboards::insert(conn, Uuid::now_v7(), account, &definition).await?;
        Ok(pb::CreateDashboardResponse {
            dashboard: Some(to_proto(&created)),
        })
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetDashboardRequest,
) -> ApiResult<pb::GetDashboardResponse> {
    let id = parse_id("id", &request.id)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let found = dashboards::get(&mut conn, account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("dashboard", id))?;
    Ok(pb::GetDashboardResponse {
        dashboard: Some(to_proto(&found)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListDashboardsRequest,
) -> ApiResult<pb::ListDashboardsResponse> {
    let (page, after) = page(request.page_size, &request.page_token)?;
    let klip = parse_optional_id("klip_id", &request.klip_id)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let mut pager = Pager::new(&page, after);
    while let Some((after, limit)) = pager.next_query() {
        let rows = dashboards::list(&mut conn, account, klip, after, limit).await?;
        pager.add(rows, |d| d.id, to_proto);
    }
    let (dashboards, next_page_token) = pager.finish(Uuid::to_string);
    Ok(pb::ListDashboardsResponse {
        dashboards,
        next_page_token,
    })
}

pub async fn update(
    pool: &DbPool,
    caller: &Caller,
    request: pb::UpdateDashboardRequest,
) -> ApiResult<pb::UpdateDashboardResponse> {
    let key = RequestKey::new(caller, "UpdateDashboard", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.dashboard.unwrap_or_default();
    let id = parse_id("dashboard.id", &wanted.id)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &["name", "klip_ids", "layout"],
        || {
            let mut set = vec![];
            if !wanted.name.is_empty() {
                set.push("name");
            }
            if !wanted.klip_ids.is_empty() {
                set.push("klip_ids");
            }
            if wanted.layout.is_some() {
                set.push("layout");
            }
            set
        },
    )?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "dashboard.account_id",
            Need::Write,
        )
        .await?;
        let current = dashboards::get_for_update(conn, account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("dashboard", id))?;
        replay::require_etag(&wanted.etag, &current.etag(), "dashboard")?;
        let mut violations = Violations::new();
        let mut next = current.definition.clone();
        if mask.has("name") {
            next.name = wanted.name.clone();
        }
        if mask.has("klip_ids") {
            next.klip_ids = klip_ids(&mut violations, &wanted.klip_ids);
        }
        if mask.has("layout") {
            next.layout = layout(wanted.layout.as_ref())?;
        }
        next.check(&mut violations, "dashboard");
        violations.into_result()?;
        check_klips(conn, account, &next).await?;
        let updated = if next == current.definition {
            current
        } else {
            dashboards::overwrite(conn, account, id, &next).await?
        };
        Ok(pb::UpdateDashboardResponse {
            dashboard: Some(to_proto(&updated)),
        })
    })
    .await
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteDashboardRequest,
) -> ApiResult<pb::DeleteDashboardResponse> {
    let key = RequestKey::new(caller, "DeleteDashboard", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let id = parse_id("id", &request.id)?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::account(conn, caller, &request.account_id, "account_id", Need::Write).await?;
        let current = dashboards::get_for_update(conn, account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("dashboard", id))?;
        replay::require_etag(&request.etag, &current.etag(), "dashboard")?;
        dashboards::delete(conn, account, id).await?;
        Ok(pb::DeleteDashboardResponse {})
    })
    .await
}
