//! Dashboards and their ordered Klips.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::{dashboard_klips as dk, dashboards};
use crate::domain::dashboard::DashboardDefinition;
use crate::domain::stored::Dashboard;

#[derive(Queryable, Selectable)]
#[diesel(table_name = dashboards, check_for_backend(diesel::pg::Pg))]
struct DashboardRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    layout: serde_json::Value,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn dashboard(row: DashboardRow, klip_ids: Vec<Uuid>) -> Dashboard {
    Dashboard {
        id: row.id,
        account_id: row.account_id,
        definition: DashboardDefinition {
            name: row.name,
            klip_ids,
            layout: row.layout,
        },
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn with_klips(
    conn: &mut AsyncPgConnection,
    rows: Vec<DashboardRow>,
) -> Result<Vec<Dashboard>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut klips: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    if !ids.is_empty() {
        let loaded: Vec<(Uuid, Uuid)> = dk::table
            .filter(dk::dashboard_id.eq_any(&ids))
            .select((dk::dashboard_id, dk::klip_id))
            .order((dk::dashboard_id, dk::position))
            .load(conn)
            .await?;
        for (dashboard_id, klip_id) in loaded {
            klips.entry(dashboard_id).or_default().push(klip_id);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let shown = klips.remove(&row.id).unwrap_or_default();
            dashboard(row, shown)
        })
        .collect())
}

async fn write_klips(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    klip_ids: &[Uuid],
) -> Result<(), StoreError> {
    diesel::delete(dk::table.filter(dk::dashboard_id.eq(id)))
        .execute(conn)
        .await?;
    if klip_ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = klip_ids
        .iter()
        .enumerate()
        .map(|(position, klip_id)| {
            (
                dk::dashboard_id.eq(id),
                dk::account_id.eq(account),
                dk::position.eq(position as i32),
                dk::klip_id.eq(*klip_id),
            )
        })
        .collect();
    diesel::insert_into(dk::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    definition: &DashboardDefinition,
) -> Result<Dashboard, StoreError> {
    let row: DashboardRow = diesel::insert_into(dashboards::table)
        .values((
            dashboards::id.eq(id),
            dashboards::account_id.eq(account),
            dashboards::name.eq(&definition.name),
            dashboards::layout.eq(&definition.layout),
        ))
        .returning(DashboardRow::as_returning())
        .get_result(conn)
        .await?;
    write_klips(conn, account, id, &definition.klip_ids).await?;
    Ok(dashboard(row, definition.klip_ids.clone()))
}

/// Writes a new definition over the dashboard; its version grows.
pub async fn overwrite(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    definition: &DashboardDefinition,
) -> Result<Dashboard, StoreError> {
    let row: DashboardRow = diesel::update(
        dashboards::table
            .filter(dashboards::id.eq(id))
            .filter(dashboards::account_id.eq(account)),
    )
    .set((
        dashboards::name.eq(&definition.name),
        dashboards::layout.eq(&definition.layout),
        dashboards::version.eq(dashboards::version + 1),
        dashboards::updated_at.eq(diesel::dsl::now),
    ))
    .returning(DashboardRow::as_returning())
    .get_result(conn)
    .await?;
    write_klips(conn, account, id, &definition.klip_ids).await?;
    Ok(dashboard(row, definition.klip_ids.clone()))
}

/// The dashboards showing a Klip lose it when it is deleted: their versions grow.
pub async fn touch_showing(conn: &mut AsyncPgConnection, klip: Uuid) -> Result<(), StoreError> {
    diesel::update(
        dashboards::table.filter(
            dashboards::id.eq_any(
                dk::table
                    .filter(dk::klip_id.eq(klip))
                    .select(dk::dashboard_id),
            ),
        ),
    )
    .set((
        dashboards::version.eq(dashboards::version + 1),
        dashboards::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

asset_rows!(dashboards, DashboardRow, Dashboard, with_klips);
related_list!(dashboards, DashboardRow, Dashboard, with_klips, dk: klip_id => dashboard_id);
