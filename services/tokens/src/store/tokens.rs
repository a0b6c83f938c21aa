//! Tokens (connected accounts) and their secrets.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::TokenState;
use crate::store::schema::{token_secrets, tokens};

trellis_platform::text_column!(TokenState);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub provider_id: Uuid,
    pub display_name: String,
    pub external_user_id: String,
    pub external_user_name: String,
    pub scopes: Vec<String>,
    pub status: TokenState,
    pub status_message: String,
    pub authorize_time: DateTime<Utc>,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// The provider's token parameters as the token endpoint last answered them: a JSON
    /// object of strings (not secret).
    pub parameters: serde_json::Value,
}

impl TokenRow {
    pub fn parameters(&self) -> BTreeMap<String, String> {
        serde_json::from_value(self.parameters.clone()).unwrap_or_default()
    }
}

/// Token parameters as stored.
pub fn parameters_value(parameters: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::to_value(parameters).unwrap_or_else(|_| serde_json::json!({}))
}

/// A token's secrets; the byte fields are sealed envelopes bound to
/// `token_secrets.<column>` and the token id.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = token_secrets)]
pub struct SecretsRow {
    pub token_id: Uuid,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_type: String,
    pub expire_time: Option<DateTime<Utc>>,
    pub generation: i64,
    pub last_refresh_time: Option<DateTime<Utc>>,
}

/// A token with its secrets' row.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub token: TokenRow,
    pub secrets: SecretsRow,
}

impl StoredToken {
    /// Changes with a rename, a status change, a refresh and a re-authorization.
    pub fn etag(&self) -> String {
        format!("{}.{}", self.token.version, self.secrets.generation)
    }
}

fn joined() -> diesel::dsl::InnerJoin<tokens::table, token_secrets::table> {
    tokens::table.inner_join(token_secrets::table)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<StoredToken, StoreError> {
    read(conn, id, false).await
}

/// The token with its rows locked until the transaction ends.
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<StoredToken, StoreError> {
    read(conn, id, true).await
}

async fn read(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<StoredToken, StoreError> {
    let query = joined()
        .filter(tokens::id.eq(id))
        .select((TokenRow::as_select(), SecretsRow::as_select()));
    let (token, secrets) = if for_update {
        query.for_update().first(conn).await?
    } else {
        query.first(conn).await?
    };
    Ok(StoredToken { token, secrets })
}

/// An account's connected accounts (T1), by id after `after`; revoked tokens are not listed.
pub async fn list(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    provider_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StoredToken>, StoreError> {
    let mut query = joined()
        .filter(tokens::account_id.eq(account_id))
        .filter(tokens::status.ne(TokenState::Revoked))
        .select((TokenRow::as_select(), SecretsRow::as_select()))
        .order(tokens::id)
        .limit(limit)
        .into_boxed();
    if let Some(provider_id) = provider_id {
        query = query.filter(tokens::provider_id.eq(provider_id));
    }
    if let Some(after) = after {
        query = query.filter(tokens::id.gt(after));
    }
    let rows: Vec<(TokenRow, SecretsRow)> = query.load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(token, secrets)| StoredToken { token, secrets })
        .collect())
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    token: &TokenRow,
    secrets: &SecretsRow,
) -> Result<StoredToken, StoreError> {
    let token = diesel::insert_into(tokens::table)
        .values(token)
        .returning(TokenRow::as_returning())
        .get_result(conn)
        .await?;
    let secrets = diesel::insert_into(token_secrets::table)
        .values(secrets)
        .returning(SecretsRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(StoredToken { token, secrets })
}

pub async fn rename(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    display_name: &str,
) -> Result<(), StoreError> {
    diesel::update(tokens::table.find(id))
        .set((
            tokens::display_name.eq(display_name),
            tokens::version.eq(tokens::version + 1),
            tokens::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// What a re-authorization changes: the same token id gets new secrets and is active again
/// (I6).
#[derive(Debug)]
pub struct Reauthorization<'a> {
    pub external_user_id: &'a str,
    pub external_user_name: &'a str,
    pub scopes: &'a [String],
    /// Its `refresh_token` None: the provider gave none, and the old one goes.
    pub secrets: NewSecrets<'a>,
    /// The new authorization's token parameters, replacing the old ones.
    pub parameters: &'a BTreeMap<String, String>,
}

pub async fn reauthorize(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    change: Reauthorization<'_>,
) -> Result<(), StoreError> {
    diesel::update(tokens::table.find(id))
        .set((
            tokens::external_user_id.eq(change.external_user_id),
            tokens::external_user_name.eq(change.external_user_name),
            tokens::scopes.eq(change.scopes),
            tokens::parameters.eq(parameters_value(change.parameters)),
            tokens::status.eq(TokenState::Active),
            tokens::status_message.eq(""),
            tokens::authorize_time.eq(diesel::dsl::now),
            tokens::version.eq(tokens::version + 1),
            tokens::update_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    diesel::update(token_secrets::table.find(id))
        .set((
            token_secrets::access_token.eq(Some(change.secrets.access_token)),
            token_secrets::refresh_token.eq(change.secrets.refresh_token),
            token_secrets::token_type.eq(change.secrets.token_type),
            token_secrets::expire_time.eq(change.secrets.expire_time),
            token_secrets::generation.eq(token_secrets::generation + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Sealed secrets a provider issued, from a code exchange or a refresh.
#[derive(Debug)]
pub struct NewSecrets<'a> {
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_type: &'a str,
    pub expire_time: Option<DateTime<Utc>>,
}

#[derive(AsChangeset)]
#[diesel(table_name = token_secrets)]
struct RefreshChange<'a> {
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
    token_type: &'a str,
    expire_time: Option<Option<DateTime<Utc>>>,
    generation: i64,
}

/// Stores a refresh made from `generation`; false when the token changed since (a
/// re-authorization won), and nothing is written. A `refresh_token` None keeps the stored
/// one (a provider that does not rotate). With `parameters` (the token parameters changed),
/// they are written too, in one transaction that locks the token's rows first, in the
/// order a re-authorization locks them, and checks the generation under that lock.
pub async fn store_refresh(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    generation: i64,
    refreshed: NewSecrets<'_>,
    parameters: Option<&BTreeMap<String, String>>,
) -> Result<bool, StoreError> {
    let Some(parameters) = parameters else {
        return store_refreshed_secrets(conn, id, generation, refreshed).await;
    };
    conn.transaction::<_, StoreError, _>(async |conn| {
        let current: Option<i64> = joined()
            .filter(tokens::id.eq(id))
            .select(token_secrets::generation)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        if current != Some(generation)
            || !store_refreshed_secrets(conn, id, generation, refreshed).await?
        {
            return Ok(false);
        }
        diesel::update(tokens::table.find(id))
            .set(tokens::parameters.eq(parameters_value(parameters)))
            .execute(conn)
            .await?;
        Ok(true)
    })
    .await
}

async fn store_refreshed_secrets(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    generation: i64,
    refreshed: NewSecrets<'_>,
) -> Result<bool, StoreError> {
    let target = token_secrets::table
        .filter(token_secrets::token_id.eq(id))
        .filter(token_secrets::generation.eq(generation));
    // A field that is None is left as it is: a provider that does not rotate keeps the
    // stored refresh token.
    let change = RefreshChange {
        access_token: Some(refreshed.access_token),
        refresh_token: refreshed.refresh_token,
        token_type: refreshed.token_type,
        expire_time: Some(refreshed.expire_time),
        generation: generation + 1,
    };
    let updated = diesel::update(target)
        .set((
            change,
            token_secrets::last_refresh_time.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Sets a token's status; with `generation`, only if its secrets are still that generation
/// (so a concurrent refresh or re-authorization is never overruled). True when changed.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: TokenState,
    message: &str,
    generation: Option<i64>,
) -> Result<bool, StoreError> {
    let changes = (
        tokens::status.eq(status),
        tokens::status_message.eq(message),
        tokens::version.eq(tokens::version + 1),
        tokens::update_time.eq(diesel::dsl::now),
    );
    let updated = match generation {
        Some(generation) => {
            // The rows are locked first, in the order a re-authorization locks them, and the
            // generation read under that lock: a re-authorization that commits while this
            // waits is seen. (A condition in a subquery of the UPDATE would be judged on the
            // statement's snapshot, older than that commit, and overrule it.)
            conn.transaction::<_, StoreError, _>(async |conn| {
                let current: Option<i64> = joined()
                    .filter(tokens::id.eq(id))
                    .select(token_secrets::generation)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if current != Some(generation) {
                    return Ok(0);
                }
                Ok(diesel::update(tokens::table.find(id))
                    .set(changes)
                    .execute(conn)
                    .await?)
            })
            .await?
        }
        None => {
            diesel::update(tokens::table.find(id))
                .set(changes)
                .execute(conn)
                .await?
        }
    };
    Ok(updated == 1)
}

/// Keeps a deleted token only as a tombstone that data sources still refer to: no secrets.
pub async fn mark_revoked(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    set_status(
        conn,
        id,
        TokenState::Revoked,
        "deleted by its account while data sources still used it",
        None,
    )
    .await?;
    diesel::update(token_secrets::table.find(id))
        .set((
            token_secrets::access_token.eq(None::<Vec<u8>>),
            token_secrets::refresh_token.eq(None::<Vec<u8>>),
            token_secrets::expire_time.eq(None::<DateTime<Utc>>),
            token_secrets::generation.eq(token_secrets::generation + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(tokens::table.find(id)).execute(conn).await?;
    Ok(())
}
