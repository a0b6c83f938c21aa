//! OAuth providers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::schema::{providers, tokens};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = providers)]
pub struct ProviderRow {
    pub id: Uuid,
    pub name: String,
    pub authorization_url: String,
    pub token_url: String,
    pub revocation_url: String,
    pub userinfo_url: String,
    pub client_id: String,
    /// Sealed, bound to `providers.client_secret` and the id.
    pub client_secret: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    pub authorization_parameters: serde_json::Value,
    pub max_tokens_per_user: i32,
    pub warn_tokens_per_user: i32,
    pub limits: serde_json::Value,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// The catalogue entry it comes from; empty for a custom provider.
    pub catalogue_key: String,
    /// The account whose family alone sees it; None for the operators' providers.
    pub owner_account_id: Option<Uuid>,
    /// Fields of the token endpoint's answer kept with each token.
    pub token_parameters: Vec<String>,
}

/// An API limit (F5); zero means no limit in that dimension. Stored as JSON (providers'
/// `limits`, credentials' `limit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    #[serde(default)]
    pub requests_per_period: i32,
    #[serde(default)]
    pub period_ms: i64,
    #[serde(default)]
    pub max_concurrent: i32,
    /// Further rates that hold as well (a daily quota beside a per-second rate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_rates: Vec<Rate>,
}

/// One further rate of a [`Limit`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub requests: i32,
    pub period_ms: i64,
}

/// The `limits` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default)]
    pub token: Limit,
    #[serde(default)]
    pub rate_limit_key: Limit,
}

impl ProviderRow {
    pub fn etag(&self) -> String {
        self.version.to_string()
    }

    pub fn authorization_parameters(&self) -> BTreeMap<String, String> {
        serde_json::from_value(self.authorization_parameters.clone()).unwrap_or_default()
    }

    pub fn limits(&self) -> Limits {
        serde_json::from_value(self.limits.clone()).unwrap_or_default()
    }
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    row: &ProviderRow,
) -> Result<ProviderRow, StoreError> {
    Ok(diesel::insert_into(providers::table)
        .values(row)
        .returning(ProviderRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<ProviderRow, StoreError> {
    Ok(providers::table
        .find(id)
        .select(ProviderRow::as_select())
        .first(conn)
        .await?)
}

pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<ProviderRow, StoreError> {
    Ok(providers::table
        .find(id)
        .select(ProviderRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// The operators' provider of catalogue entry `key`, if it is loaded.
pub async fn of_catalogue(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> Result<Option<ProviderRow>, StoreError> {
    Ok(providers::table
        .filter(providers::catalogue_key.eq(key))
        .filter(providers::owner_account_id.is_null())
        .select(ProviderRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The same, its row locked until the transaction ends.
pub async fn of_catalogue_for_update(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> Result<Option<ProviderRow>, StoreError> {
    Ok(providers::table
        .filter(providers::catalogue_key.eq(key))
        .filter(providers::owner_account_id.is_null())
        .select(ProviderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// Providers by (name, id), after the given key: every one, or with `visible_to`, those
/// of the operators and those these accounts own.
pub async fn list(
    conn: &mut AsyncPgConnection,
    visible_to: Option<&[Uuid]>,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> Result<Vec<ProviderRow>, StoreError> {
    let mut query = providers::table
        .select(ProviderRow::as_select())
        .order((providers::name, providers::id))
        .limit(limit)
        .into_boxed();
    if let Some(owners) = visible_to {
        query = query.filter(
            providers::owner_account_id
                .is_null()
                .or(providers::owner_account_id.eq_any(owners.to_vec())),
        );
    }
    if let Some((name, id)) = after {
        query = query.filter(
            providers::name
                .gt(name.clone())
                .or(providers::name.eq(name).and(providers::id.gt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Writes every changeable field of `row` and bumps its version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    row: &ProviderRow,
) -> Result<ProviderRow, StoreError> {
    Ok(diesel::update(providers::table.find(row.id))
        .set((
            providers::name.eq(&row.name),
            providers::authorization_url.eq(&row.authorization_url),
            providers::token_url.eq(&row.token_url),
            providers::revocation_url.eq(&row.revocation_url),
            providers::userinfo_url.eq(&row.userinfo_url),
            providers::client_id.eq(&row.client_id),
            providers::client_secret.eq(&row.client_secret),
            providers::scopes.eq(&row.scopes),
            providers::authorization_parameters.eq(&row.authorization_parameters),
            providers::max_tokens_per_user.eq(row.max_tokens_per_user),
            providers::warn_tokens_per_user.eq(row.warn_tokens_per_user),
            providers::limits.eq(&row.limits),
            providers::token_parameters.eq(&row.token_parameters),
            providers::version.eq(providers::version + 1),
            providers::update_time.eq(diesel::dsl::now),
        ))
        .returning(ProviderRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn count_tokens(conn: &mut AsyncPgConnection, id: Uuid) -> Result<i64, StoreError> {
    Ok(tokens::table
        .filter(tokens::provider_id.eq(id))
        .count()
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(providers::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
