//! ResolveDataSource's work: a data source's request for one account and user (I13), with
//! its dates in the account's time zone on the library's clock.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use crate::domain::dates::{DateRange, DateValues};
use crate::domain::instance::ResolvedRequest;
use crate::domain::properties::ResolvedProperty;
use crate::domain::stored::{Account, DataSource};
use crate::store::{accounts, data_sources, properties};

/// A data source resolved for one account and user.
pub struct Resolution {
    pub data_source: DataSource,
    pub request: ResolvedRequest,
    /// The properties the request used, with where each value came from.
    pub properties: Vec<ResolvedProperty>,
    /// The account whose family shares the rate-limit key's limit: the partner of a
    /// client, else the account itself (F5).
    pub limit_scope: Uuid,
}

/// The account's time zone and family, read with the data source.
pub async fn account(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Account> {
    accounts::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", id))
}

/// Today and the data source's range in `account`'s zone at `now` (see
/// `DataSourceDefinition::date_values`).
pub fn dates(
    data_source: &DataSource,
    account: &Account,
    now: DateTime<Utc>,
    narrow: Option<&DateRange>,
) -> ApiResult<DateValues> {
    data_source
        .definition
        .date_values(now, account.zone(), narrow)
}

/// Resolves the data source `id` of `account` for `user` (none: company properties and
/// variable defaults only) at `now`, within `narrow` when given.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    id: Uuid,
    user: Option<&str>,
    now: DateTime<Utc>,
    narrow: Option<&DateRange>,
) -> ApiResult<Resolution> {
    let data_source = data_sources::get(conn, account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("data source", id))?;
    let account = account(conn, account_id).await?;
    let dates = dates(&data_source, &account, now, narrow)?;
    let sources = properties::sources(conn, account_id, user).await?;
    let request = data_source.definition.resolve(&sources.values(), &dates)?;
    let (properties, _) = sources.resolve_all(request.used.iter().map(String::as_str));
    Ok(Resolution {
        data_source,
        request,
        properties,
        limit_scope: account.place().family().unwrap_or(account.id),
    })
}
