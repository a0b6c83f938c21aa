//! Dashboards: CreateDashboard, GetDashboard, ListDashboards, UpdateDashboard,
//! DeleteDashboard.

use serde_json::Value;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::{json_to_struct, struct_to_json, timestamp};
use super::mask::Mask;
use crate::app::access::{self, Need};
use crate::app::dashboards as app;
use crate::app::pages::Pager;
use crate::domain::dashboard::DashboardDefinition;
use crate::domain::stored::Dashboard;
use crate::domain::stored::Stored;

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
    app::check(&definition, violations)?;

    replay::write(pool, &key, async |conn| {
        let created = app::create(conn, caller, &wanted.account_id, &definition).await?;
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
    let id = fields::id("id", &request.id)?;
    let found: Dashboard = crate::app::read(pool, caller, &request.account_id, &id).await?;
    Ok(pb::GetDashboardResponse {
        dashboard: Some(to_proto(&found)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListDashboardsRequest,
) -> ApiResult<pb::ListDashboardsResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let klip = fields::optional_id("klip_id", &request.klip_id)?;
    let (dashboards, next_page_token) =
        crate::app::list::<Dashboard, _>(pool, caller, &request.account_id, klip, pager, to_proto)
            .await?;
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
    let id = fields::id("dashboard.id", &wanted.id)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &[
            ("name", !wanted.name.is_empty()),
            ("klip_ids", !wanted.klip_ids.is_empty()),
            ("layout", wanted.layout.is_some()),
        ],
    )?;
    // The caller's fields over the current definition.
    let change = |current: &DashboardDefinition, violations: &mut Violations| {
        let mut next = current.clone();
        if mask.has("name") {
            next.name = wanted.name.clone();
        }
        if mask.has("klip_ids") {
            next.klip_ids = klip_ids(violations, &wanted.klip_ids);
        }
        if mask.has("layout") {
            next.layout = layout(wanted.layout.as_ref())?;
        }
        Ok(next)
    };

    replay::write(pool, &key, async |conn| {
        let updated =
            app::update(conn, caller, &wanted.account_id, (id, &wanted.etag), change).await?;
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
    let id = fields::id("id", &request.id)?;

    replay::write(pool, &key, async |conn| {
        let what = (&id, request.etag.as_str());
        crate::app::delete::<Dashboard>(conn, caller, &request.account_id, what, Need::Write)
            .await?;
        Ok(pb::DeleteDashboardResponse {})
    })
    .await
}
