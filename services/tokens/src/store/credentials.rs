//! Saved credentials (I5).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::credentials::{Flows, LoginKind, Placement};
use crate::store::providers::Limit;
use crate::store::schema::credentials;

trellis_platform::text_column!(LoginKind);
trellis_platform::text_column!(Placement);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = credentials)]
pub struct CredentialRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub display_name: String,
    pub kind: LoginKind,
    pub username: String,
    pub api_key_placement: Placement,
    pub api_key_name: String,
    /// The one secret of its kind (password, API key, client secret or signing key), sealed,
    /// bound to `credentials.secret` and the id.
    pub secret: Vec<u8>,
    pub scoped_data_source_id: Option<Uuid>,
    pub source_credential_id: Option<Uuid>,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// For a copy, the data source's fingerprint it was made for (I14); empty otherwise.
    pub request_fingerprint: String,
    /// The kind's non-secret configuration ([`Flows`] as JSON); NULL for BASIC and API_KEY.
    pub flow: Option<serde_json::Value>,
    /// The API's limit for requests made with the credential ([`Limit`] as JSON), NULL for
    /// none.
    pub api_limit: Option<serde_json::Value>,
}

impl CredentialRow {
    pub fn etag(&self) -> String {
        self.version.to_string()
    }

    /// The stored flows; none when the column is NULL (or, which only a damaged row does,
    /// does not parse).
    pub fn flows(&self) -> Flows {
        self.flow
            .clone()
            .and_then(|json| serde_json::from_value(json).ok())
            .unwrap_or_default()
    }

    pub fn set_flows(&mut self, flows: &Flows) {
        self.flow = (!flows.is_empty()).then(|| serde_json::to_value(flows).unwrap_or_default());
    }

    /// The stored limit, if the credential has one.
    pub fn limit(&self) -> Option<Limit> {
        self.api_limit
            .clone()
            .and_then(|json| serde_json::from_value(json).ok())
    }

    /// Stores `limit`; one that limits nothing is none.
    pub fn set_limit(&mut self, limit: Option<&Limit>) {
        self.api_limit = limit
            .filter(|limit| **limit != Limit::default())
            .map(|limit| serde_json::to_value(limit).unwrap_or_default());
    }

    /// The credential whose limit this one counts under: the one a copy was made from,
    /// else itself, so every copy of a partner's key shares one limit (F5).
    pub fn limit_key(&self) -> Uuid {
        self.source_credential_id.unwrap_or(self.id)
    }
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    row: &CredentialRow,
) -> Result<CredentialRow, StoreError> {
    Ok(diesel::insert_into(credentials::table)
        .values(row)
        .returning(CredentialRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<CredentialRow, StoreError> {
    Ok(credentials::table
        .find(id)
        .select(CredentialRow::as_select())
        .first(conn)
        .await?)
}

pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<CredentialRow, StoreError> {
    Ok(credentials::table
        .find(id)
        .select(CredentialRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// The copy of `source` scoped to `data_source_id`, if one was made.
pub async fn find_copy(
    conn: &mut AsyncPgConnection,
    source: Uuid,
    data_source_id: Uuid,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(credentials::table
        .filter(credentials::source_credential_id.eq(source))
        .filter(credentials::scoped_data_source_id.eq(data_source_id))
        .select(CredentialRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CredentialRow>, StoreError> {
    let mut query = credentials::table
        .filter(credentials::account_id.eq(account_id))
        .select(CredentialRow::as_select())
        .order(credentials::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(credentials::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// Writes the changeable fields and the secret of `row`, bumping its version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    row: &CredentialRow,
) -> Result<CredentialRow, StoreError> {
    Ok(diesel::update(credentials::table.find(row.id))
        .set((
            credentials::display_name.eq(&row.display_name),
            credentials::username.eq(&row.username),
            credentials::api_key_placement.eq(&row.api_key_placement),
            credentials::api_key_name.eq(&row.api_key_name),
            credentials::secret.eq(&row.secret),
            credentials::request_fingerprint.eq(&row.request_fingerprint),
            credentials::flow.eq(&row.flow),
            credentials::api_limit.eq(&row.api_limit),
            credentials::version.eq(credentials::version + 1),
            credentials::update_time.eq(diesel::dsl::now),
        ))
        .returning(CredentialRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(credentials::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
