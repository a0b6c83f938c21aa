//! Token grants (I6).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::schema::token_grants;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = token_grants)]
pub struct GrantRow {
    pub id: Uuid,
    pub token_id: Uuid,
    pub grantee_account_id: Uuid,
    pub data_source_id: Uuid,
    pub create_time: DateTime<Utc>,
    /// The data source's fingerprint the grant was made for (I14); empty if unrecorded.
    pub request_fingerprint: String,
}

impl GrantRow {
    /// Grants never change; the etag only has to differ between grants.
    pub fn etag(&self) -> String {
        "1".to_owned()
    }
}

/// Inserts the grant unless one exists for its (token, data source), in which case the
/// existing one is bound to the row's fingerprint (an import or update that pushed a new
/// definition rebinds it); returns the stored one.
pub async fn insert_or_get(
    conn: &mut AsyncPgConnection,
    row: &GrantRow,
) -> Result<GrantRow, StoreError> {
    diesel::insert_into(token_grants::table)
        .values(row)
        .on_conflict((token_grants::token_id, token_grants::data_source_id))
        .do_update()
        .set(token_grants::request_fingerprint.eq(&row.request_fingerprint))
        .execute(conn)
        .await?;
    find(conn, row.token_id, row.data_source_id)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<GrantRow, StoreError> {
    Ok(token_grants::table
        .find(id)
        .select(GrantRow::as_select())
        .first(conn)
        .await?)
}

/// The grant that lets `data_source_id` use `token_id`, if any.
pub async fn find(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
    data_source_id: Uuid,
) -> Result<Option<GrantRow>, StoreError> {
    Ok(token_grants::table
        .filter(token_grants::token_id.eq(token_id))
        .filter(token_grants::data_source_id.eq(data_source_id))
        .select(GrantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Grants of a token or to an account, by id after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    token_id: Option<Uuid>,
    grantee_account_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GrantRow>, StoreError> {
    let mut query = token_grants::table
        .select(GrantRow::as_select())
        .order(token_grants::id)
        .limit(limit)
        .into_boxed();
    if let Some(token_id) = token_id {
        query = query.filter(token_grants::token_id.eq(token_id));
    }
    if let Some(grantee) = grantee_account_id {
        query = query.filter(token_grants::grantee_account_id.eq(grantee));
    }
    if let Some(after) = after {
        query = query.filter(token_grants::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// Every grant of a token.
pub async fn of_token(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
) -> Result<Vec<GrantRow>, StoreError> {
    Ok(token_grants::table
        .filter(token_grants::token_id.eq(token_id))
        .select(GrantRow::as_select())
        .order(token_grants::id)
        .load(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(token_grants::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_of_token(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
) -> Result<(), StoreError> {
    diesel::delete(token_grants::table.filter(token_grants::token_id.eq(token_id)))
        .execute(conn)
        .await?;
    Ok(())
}
