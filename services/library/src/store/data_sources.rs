//! Data sources.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::corrupt;
use super::schema::data_sources as ds;
use crate::domain::data_source::{Auth, DataSourceDefinition, Format, Header, Method};
use crate::domain::dates::DateRange;
use crate::domain::pagination::{Pagination, SourceLimit};
use crate::domain::stored::DataSource;

#[derive(Queryable, Selectable)]
#[diesel(table_name = ds, check_for_backend(diesel::pg::Pg))]
struct DataSourceRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    request: serde_json::Value,
    format: Format,
    auth_kind: String,
    credential_id: Option<Uuid>,
    token_id: Option<Uuid>,
    refresh_interval_seconds: i64,
    rate_limit_key: String,
    template_properties: Vec<String>,
    version: i64,
    fingerprint: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    options: serde_json::Value,
}

/// The `request` column.
#[derive(Serialize, Deserialize)]
struct RequestColumn {
    method: String,
    url: String,
    headers: Vec<Header>,
    body: String,
}

fn request_column(definition: &DataSourceDefinition) -> serde_json::Value {
    serde_json::to_value(RequestColumn {
        method: definition.method.as_str().to_owned(),
        url: definition.url.clone(),
        headers: definition.headers.clone(),
        body: definition.body.clone(),
    })
    .expect("a request serializes")
}

trellis_platform::text_column!(Format);

/// The `options` column: what the data source has of these, each left out when it has none.
#[derive(Serialize, Deserialize, Default)]
struct OptionsColumn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date_range: Option<DateRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate_limit_key_limit: Option<SourceLimit>,
}

fn options_column(definition: &DataSourceDefinition) -> serde_json::Value {
    serde_json::to_value(OptionsColumn {
        pagination: definition.pagination.clone(),
        date_range: definition.date_range.clone(),
        rate_limit_key_limit: definition.rate_limit_key_limit.clone(),
    })
    .expect("the options serialize")
}

impl TryFrom<DataSourceRow> for DataSource {
    type Error = StoreError;

    fn try_from(row: DataSourceRow) -> Result<Self, StoreError> {
        let broken = |what: &str| corrupt(format!("data source {}: {what}", row.id));
        let request =
            serde_json::from_value::<RequestColumn>(row.request).map_err(|_| broken("request"))?;
        let options =
            serde_json::from_value::<OptionsColumn>(row.options).map_err(|_| broken("options"))?;
        let definition = DataSourceDefinition {
            method: Method::parse(&request.method).ok_or_else(|| broken("method"))?,
            headers: request.headers,
            format: row.format,
            auth: Auth::from_columns(&row.auth_kind, row.credential_id, row.token_id)
                .ok_or_else(|| broken("auth"))?,
            name: row.name,
            url: request.url,
            body: request.body,
            refresh_interval_seconds: row.refresh_interval_seconds,
            rate_limit_key: row.rate_limit_key,
            pagination: options.pagination,
            date_range: options.date_range,
            rate_limit_key_limit: options.rate_limit_key_limit,
        };
        Ok(DataSource {
            id: row.id,
            account_id: row.account_id,
            definition,
            template_properties: row.template_properties,
            version: row.version,
            fingerprint: row.fingerprint,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

async fn rows(
    _conn: &mut AsyncPgConnection,
    rows: Vec<DataSourceRow>,
) -> Result<Vec<DataSource>, StoreError> {
    rows.into_iter().map(DataSource::try_from).collect()
}

/// The columns a definition sets, with what derives from it.
macro_rules! definition_columns {
    ($definition:expr) => {{
        let definition: &DataSourceDefinition = $definition;
        (
            ds::name.eq(definition.name.clone()),
            ds::request.eq(request_column(definition)),
            ds::format.eq(definition.format),
            ds::auth_kind.eq(definition.auth.kind()),
            ds::credential_id.eq(definition.auth.credential_id()),
            ds::token_id.eq(definition.auth.token_id()),
            ds::refresh_interval_seconds.eq(definition.refresh_interval_seconds),
            ds::rate_limit_key.eq(definition.rate_limit_key.clone()),
            ds::template_properties.eq(definition.template_properties()),
            ds::fingerprint.eq(definition.fingerprint()),
            ds::options.eq(options_column(definition)),
        )
    }};
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    definition: &DataSourceDefinition,
) -> Result<DataSource, StoreError> {
    diesel::insert_into(ds::table)
        .values((
            ds::id.eq(id),
            ds::account_id.eq(account),
            definition_columns!(definition),
        ))
        .returning(DataSourceRow::as_returning())
        .get_result(conn)
        .await?
        .try_into()
}

/// Writes a new definition over the data source; its version grows.
pub async fn overwrite(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    definition: &DataSourceDefinition,
) -> Result<DataSource, StoreError> {
    diesel::update(
        ds::table
            .filter(ds::id.eq(id))
            .filter(ds::account_id.eq(account)),
    )
    .set((
        definition_columns!(definition),
        ds::version.eq(ds::version + 1),
        ds::updated_at.eq(diesel::dsl::now),
    ))
    .returning(DataSourceRow::as_returning())
    .get_result(conn)
    .await?
    .try_into()
}

/// Which data sources a list shows: one account's, or (for "who uses this token", T3)
/// every account's that use a token or credential.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataSourceFilter {
    pub account: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: DataSourceFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DataSource>, StoreError> {
    let mut query = ds::table
        .select(DataSourceRow::as_select())
        .order(ds::id)
        .limit(limit)
        .into_boxed();
    if let Some(account) = filter.account {
        query = query.filter(ds::account_id.eq(account));
    }
    if let Some(token) = filter.token_id {
        query = query.filter(ds::token_id.eq(token));
    }
    if let Some(credential) = filter.credential_id {
        query = query.filter(ds::credential_id.eq(credential));
    }
    if let Some(after) = after {
        query = query.filter(ds::id.gt(after));
    }
    let found = query.load(conn).await?;
    rows(conn, found).await
}

asset_rows!(ds, DataSourceRow, DataSource, rows);
