//! Data sources: CreateDataSource, GetDataSource, ListDataSources, UpdateDataSource,
//! DeleteDataSource, ResolveDataSource.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::duration;
use super::data_source_wire::{
    auth_to_proto, definition, format_to_proto, headers_to_proto, method_to_proto, to_proto,
};
use super::mask::Mask;
use super::resolution::property_to_proto;
use super::source_options::{limit_to_proto, pagination_to_proto};
use crate::app::access::{self, Need};
use crate::app::pages::Pager;
use crate::app::resolving;
use crate::clock::Clock;
use crate::domain::data_source::{Auth, DataSourceDefinition};
use crate::domain::dates::DateRange;
use crate::domain::stored::DataSource;
use crate::store::data_sources::DataSourceFilter;
use crate::store::{data_sources, klips};
use crate::token_registry::{Holding, TokenRegistry};

/// What saving a data source needs: its tables and the token registry, which says whether
/// the account may name the token or credential (I14, I15).
pub struct Saving {
    pub pool: DbPool,
    pub registry: std::sync::Arc<TokenRegistry>,
}

fn auth_field(auth: Auth) -> &'static str {
    match auth {
        Auth::OauthToken(_) => "data_source.auth.token_id",
        _ => "data_source.auth.credential_id",
    }
}

/// I15: a data source names only a token or credential its account owns, or holds a grant
/// or scoped copy of for this very data source. I14: while it borrows the master's, what it
/// fetches stays as imported; changing it needs a token or credential of the account's own,
/// switched to in the same update.
async fn check_auth(
    registry: &TokenRegistry,
    account: Uuid,
    id: Option<Uuid>,
    current: Option<&DataSourceDefinition>,
    next: &DataSourceDefinition,
) -> ApiResult<()> {
    if let Some(current) = current
        && current.auth == next.auth
        && current.fingerprint() == next.fingerprint()
    {
        return Ok(());
    }
    match registry
        .holding(account, id, next.auth, &next.fingerprint())
        .await?
    {
        Holding::Own | Holding::Borrowed => Ok(()),
        Holding::Refused => Err(ApiError::invalid(
            auth_field(next.auth),
            "is not a token or credential of this account, nor one granted to this data source",
        )),
        Holding::BorrowedForAnotherQuery => Err(ApiError::precondition(
            "IMPORTED_QUERY_NEEDS_OWN_AUTH",
            format!(
                "data_sources/{}",
                id.map(|id| id.to_string()).unwrap_or_default()
            ),
            "this imported data source uses its master's token or credential, which serve only \
             the query as imported (I14); to change what it fetches, switch `auth` to a token \
             or credential of this account in the same update",
        )),
    }
}

pub async fn create(
    saving: &Saving,
    caller: &Caller,
    request: pb::CreateDataSourceRequest,
) -> ApiResult<pb::CreateDataSourceResponse> {
    let pool = &saving.pool;
    let key = RequestKey::new(caller, "CreateDataSource", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.data_source.unwrap_or_default();
    let definition = definition(&wanted, "data_source")?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::Target::new(&wanted.account_id, "data_source.account_id", Need::Write)
                .resolve(conn, caller)
                .await?;
        check_auth(&saving.registry, account, None, None, &definition).await?;
        let created = data_sources::insert(conn, Uuid::now_v7(), account, &definition).await?;
        Ok(pb::CreateDataSourceResponse {
            data_source: Some(to_proto(&created)),
        })
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetDataSourceRequest,
) -> ApiResult<pb::GetDataSourceResponse> {
    let id = fields::id("id", &request.id)?;
    let found: DataSource = crate::app::read(pool, caller, &request.account_id, &id).await?;
    Ok(pb::GetDataSourceResponse {
        data_source: Some(to_proto(&found)),
    })
}

fn optional_id(field: &str, text: &str) -> ApiResult<Option<Uuid>> {
    match text {
        "" => Ok(None),
        text => fields::id(field, text).map(Some),
    }
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListDataSourcesRequest,
) -> ApiResult<pb::ListDataSourcesResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let token_id = optional_id("token_id", &request.token_id)?;
    let credential_id = optional_id("credential_id", &request.credential_id)?;
    if token_id.is_some() && credential_id.is_some() {
        return Err(ApiError::invalid(
            "credential_id",
            "filter by token_id or by credential_id, not both",
        ));
    }
    let mut conn = trellis_platform::db::connect(pool).await?;
    // "Who uses this token" (T3) looks across every account: service tokens only.
    let across_accounts = caller.is_service() && request.account_id.is_empty();
    let account = if across_accounts {
        if token_id.is_none() && credential_id.is_none() {
            return Err(ApiError::invalid(
                "account_id",
                "is required with a service token unless token_id or credential_id is set",
            ));
        }
        None
    } else {
        Some(
            access::Target::new(&request.account_id, "account_id", Need::Read)
                .resolve(&mut conn, caller)
                .await?,
        )
    };
    let filter = DataSourceFilter {
        account,
        token_id,
        credential_id,
    };
    let (data_sources, next_page_token) = pager
        .fill(
            &mut conn,
            |d| d.id,
            to_proto,
            |conn, after, limit| Box::pin(data_sources::list(conn, filter, after, limit)),
        )
        .await?;
    Ok(pb::ListDataSourcesResponse {
        data_sources,
        next_page_token,
    })
}

/// `current` with the fields of `wanted` that `mask` names.
fn merge(mut current: pb::DataSource, wanted: &pb::DataSource, mask: &Mask) -> pb::DataSource {
    if mask.has("name") {
        current.name = wanted.name.clone();
    }
    let wanted_request = wanted.request.clone().unwrap_or_default();
    let request = current.request.get_or_insert_default();
    if mask.has("request") {
        *request = wanted_request.clone();
    }
    if mask.has("request.method") {
        request.method = wanted_request.method;
    }
    if mask.has("request.url") {
        request.url = wanted_request.url.clone();
    }
    if mask.has("request.headers") {
        request.headers = wanted_request.headers.clone();
    }
    if mask.has("request.body") {
        request.body = wanted_request.body.clone();
    }
    if mask.has("format") {
        current.format = wanted.format;
    }
    if mask.has("auth") {
        current.auth = wanted.auth.clone();
    }
    if mask.has("refresh_interval") {
        current.refresh_interval = wanted.refresh_interval;
    }
    if mask.has("rate_limit_key") {
        current.rate_limit_key = wanted.rate_limit_key.clone();
    }
    if mask.has("pagination") {
        current.pagination = wanted.pagination.clone();
    }
    if mask.has("date_range") {
        current.date_range = wanted.date_range.clone();
    }
    if mask.has("rate_limit_key_limit") {
        current.rate_limit_key_limit = wanted.rate_limit_key_limit.clone();
    }
    current
}

pub async fn update(
    saving: &Saving,
    caller: &Caller,
    request: pb::UpdateDataSourceRequest,
) -> ApiResult<pb::UpdateDataSourceResponse> {
    let pool = &saving.pool;
    let key = RequestKey::new(caller, "UpdateDataSource", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.data_source.unwrap_or_default();
    let id = fields::id("data_source.id", &wanted.id)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &[
            ("name", !wanted.name.is_empty()),
            ("request", wanted.request.is_some()),
            ("request.method", false),
            ("request.url", false),
            ("request.headers", false),
            ("request.body", false),
            ("format", wanted.format != 0),
            ("auth", wanted.auth.is_some()),
            ("refresh_interval", wanted.refresh_interval.is_some()),
            ("rate_limit_key", !wanted.rate_limit_key.is_empty()),
            ("pagination", wanted.pagination.is_some()),
            ("date_range", wanted.date_range.is_some()),
            (
                "rate_limit_key_limit",
                wanted.rate_limit_key_limit.is_some(),
            ),
        ],
    )?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::Target::new(&wanted.account_id, "data_source.account_id", Need::Write)
                .resolve(conn, caller)
                .await?;
        let current = crate::app::locked::<DataSource>(conn, account, &id, &wanted.etag).await?;
        let next = definition(&merge(to_proto(&current), &wanted, &mask), "data_source")?;
        let updated = if next == current.definition {
            current
        } else {
            check_auth(
                &saving.registry,
                account,
                Some(id),
                Some(&current.definition),
                &next,
            )
            .await?;
            data_sources::overwrite(conn, account, id, &next).await?
        };
        Ok(pb::UpdateDataSourceResponse {
            data_source: Some(to_proto(&updated)),
        })
    })
    .await
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteDataSourceRequest,
) -> ApiResult<pb::DeleteDataSourceResponse> {
    let key = RequestKey::new(caller, "DeleteDataSource", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let id = fields::id("id", &request.id)?;

    replay::write(pool, &key, async |conn| {
        let account = access::Target::new(&request.account_id, "account_id", Need::Write)
            .resolve(conn, caller)
            .await?;
        let _current = crate::app::locked::<DataSource>(conn, account, &id, &request.etag).await?;
        let binding = klips::binding(conn, id).await?;
        if !binding.is_empty() && !request.force {
            let listed: Vec<String> = binding.iter().take(10).map(Uuid::to_string).collect();
            return Err(ApiError::precondition(
                "IN_USE",
                format!("data_sources/{id}"),
                format!(
                    "{} Klip(s) bind this data source ({}); unbind them or set force",
                    binding.len(),
                    listed.join(", ")
                ),
            ));
        }
        // Forced: the bindings dangle (set to NULL by the foreign key) and the Klips count
        // it as a change.
        klips::touch(conn, &binding).await?;
        data_sources::delete(conn, account, id).await?;
        Ok(pb::DeleteDataSourceResponse {})
    })
    .await
}

/// What resolving a data source needs: its tables and the clock its dates are read on.
pub struct Resolving {
    pub pool: DbPool,
    pub clock: std::sync::Arc<dyn Clock>,
}

pub async fn resolve(
    resolving: &Resolving,
    caller: &Caller,
    request: pb::ResolveDataSourceRequest,
) -> ApiResult<pb::ResolveDataSourceResponse> {
    let id = fields::id("data_source_id", &request.data_source_id)?;
    let user = access::user(caller, &request.user_id)?;
    let narrow = request
        .date_range
        .as_ref()
        .filter(|range| !(range.start.is_empty() && range.end.is_empty()))
        .map(|range| DateRange {
            start: range.start.clone(),
            end: range.end.clone(),
        });
    let (mut conn, account) = access::reading(&resolving.pool, caller, &request.account_id).await?;
    let now = resolving.clock.now();
    let found = resolving::resolve(&mut conn, account, id, user, now, narrow.as_ref()).await?;
    let (source, resolved) = (&found.data_source, found.request);
    let definition = &source.definition;
    let iso = |date: Option<chrono::NaiveDate>| date.map(|d| d.to_string()).unwrap_or_default();
    Ok(pb::ResolveDataSourceResponse {
        resolved_request: Some(pb::ResolvedRequest {
            data_source_id: source.id.to_string(),
            account_id: source.account_id.to_string(),
            data_source_version: source.version,
            method: method_to_proto(resolved.method) as i32,
            url: resolved.url,
            headers: headers_to_proto(&resolved.headers),
            body: resolved.body,
            format: format_to_proto(definition.format) as i32,
            auth: Some(auth_to_proto(definition.auth)),
            rate_limit_key: resolved.rate_limit_key,
            refresh_interval: duration(definition.refresh_interval_seconds),
            instance_key: resolved.instance_key,
            properties: found.properties.iter().map(property_to_proto).collect(),
            unresolved_properties: resolved.unresolved,
            fingerprint: source.fingerprint.clone(),
            pagination: definition.pagination.as_ref().map(pagination_to_proto),
            rate_limit_key_limit: definition.rate_limit_key_limit.as_ref().map(limit_to_proto),
            limit_scope_account_id: found.limit_scope.to_string(),
            date_range_start: iso(resolved.date_range.map(|r| r.start)),
            date_range_end: iso(resolved.date_range.map(|r| r.end)),
            token_parameters: resolved.token_parameters,
        }),
    })
}
