//! `import_plans`: plans as reviewed (I8).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{from_json, to_json};
use crate::domain::plan::Plan;
use crate::store::schema::import_plans;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = import_plans)]
struct PlanRow {
    id: Uuid,
    destination_account_id: Uuid,
    source_account_id: Uuid,
    creator_user_id: String,
    selection: serde_json::Value,
    spec: serde_json::Value,
    warnings: serde_json::Value,
    variables: serde_json::Value,
    etag: String,
    import_id: Option<Uuid>,
    create_time: DateTime<Utc>,
    expire_time: DateTime<Utc>,
}

impl TryFrom<PlanRow> for Plan {
    type Error = StoreError;

    fn try_from(row: PlanRow) -> Result<Self, StoreError> {
        Ok(Plan {
            id: row.id,
            destination_account_id: row.destination_account_id,
            source_account_id: row.source_account_id,
            creator_user_id: row.creator_user_id,
            selection: from_json(row.selection)?,
            spec: from_json(row.spec)?,
            warnings: from_json(row.warnings)?,
            variables: from_json(row.variables)?,
            etag: row.etag,
            import_id: row.import_id,
            create_time: row.create_time,
            expire_time: row.expire_time,
        })
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, plan: &Plan) -> Result<(), StoreError> {
    diesel::insert_into(import_plans::table)
        .values(PlanRow {
            id: plan.id,
            destination_account_id: plan.destination_account_id,
            source_account_id: plan.source_account_id,
            creator_user_id: plan.creator_user_id.clone(),
            selection: to_json(&plan.selection),
            spec: to_json(&plan.spec),
            warnings: to_json(&plan.warnings),
            variables: to_json(&plan.variables),
            etag: plan.etag.clone(),
            import_id: plan.import_id,
            create_time: plan.create_time,
            expire_time: plan.expire_time,
        })
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Plan>, StoreError> {
    import_plans::table
        .find(id)
        .select(PlanRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Plan::try_from)
        .transpose()
}

/// The plan, locked until the transaction ends: one execution at a time.
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Plan>, StoreError> {
    import_plans::table
        .find(id)
        .select(PlanRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .map(Plan::try_from)
        .transpose()
}

pub async fn set_import(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    import_id: Uuid,
) -> Result<(), StoreError> {
    diesel::update(import_plans::table.find(id))
        .set(import_plans::import_id.eq(import_id))
        .execute(conn)
        .await?;
    Ok(())
}
