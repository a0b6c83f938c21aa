//! Company properties (I13).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::company_properties as cp;
use crate::domain::stored::CompanyProperty;

#[derive(Queryable, Selectable)]
#[diesel(table_name = cp, check_for_backend(diesel::pg::Pg))]
struct PropertyRow {
    account_id: Uuid,
    name: String,
    value: String,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PropertyRow> for CompanyProperty {
    fn from(row: PropertyRow) -> Self {
        CompanyProperty {
            account_id: row.account_id,
            name: row.name,
            value: row.value,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Every property of the account, by name.
pub async fn values(
    conn: &mut AsyncPgConnection,
    account: Uuid,
) -> Result<BTreeMap<String, String>, StoreError> {
    Ok(cp::table
        .filter(cp::account_id.eq(account))
        .select((cp::name, cp::value))
        .load::<(String, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    name: &str,
    value: &str,
) -> Result<CompanyProperty, StoreError> {
    Ok(diesel::insert_into(cp::table)
        .values((
            cp::account_id.eq(account),
            cp::name.eq(name),
            cp::value.eq(value),
        ))
        .returning(PropertyRow::as_returning())
        .get_result(conn)
        .await?
        .into())
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    name: &str,
    value: &str,
) -> Result<CompanyProperty, StoreError> {
    Ok(diesel::update(cp::table.find((account, name)))
        .set((
            cp::value.eq(value),
            cp::revision.eq(cp::revision + 1),
            cp::updated_at.eq(diesel::dsl::now),
        ))
        .returning(PropertyRow::as_returning())
        .get_result(conn)
        .await?
        .into())
}

named_rows!(cp, PropertyRow, CompanyProperty);
