//! Company properties (I13): SetCompanyProperty, GetCompanyProperty, ListCompanyProperties,
//! DeleteCompanyProperty.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_proto::library::v1 as pb;

use super::access::{self, Need};
use super::convert::timestamp;
use super::pages::Pager;
use super::replay::{self, RequestKey};
use crate::domain::names::{check_property_name, check_value, is_property_name};
use crate::domain::stored::CompanyProperty;
use crate::store::company_properties;

pub const MAX_VALUE_BYTES: usize = 8 * 1024;

fn to_proto(property: &CompanyProperty) -> pb::CompanyProperty {
    pb::CompanyProperty {
        account_id: property.account_id.to_string(),
        name: property.name.clone(),
        value: property.value.clone(),
        etag: property.etag(),
        create_time: timestamp(property.created_at),
        update_time: timestamp(property.updated_at),
    }
}

fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let mut violations = Violations::new();
    check_property_name(&mut violations, field, name);
    violations.into_result()
}

pub async fn set(
    pool: &DbPool,
    caller: &Caller,
    request: pb::SetCompanyPropertyRequest,
) -> ApiResult<pb::SetCompanyPropertyResponse> {
    let key = RequestKey::new(caller, "SetCompanyProperty", &request.request_id)?;
    access::role(caller, Need::Admin)?;
    let wanted = request.property.unwrap_or_default();
    let mut violations = Violations::new();
    check_property_name(&mut violations, "property.name", &wanted.name);
    check_value(
        &mut violations,
        "property.value",
        &wanted.value,
        MAX_VALUE_BYTES,
    );
    violations.into_result()?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "property.account_id",
            Need::Admin,
        )
        .await?;
        access::require_agency_for_client(conn, caller, account).await?;
        let current = company_properties::get_for_update(conn, account, &wanted.name).await?;
        let (property, created) = match current {
            Some(current) => {
                replay::require_etag(&wanted.etag, &current.etag(), "property")?;
                if current.value == wanted.value {
                    (current, false)
                } else {
                    let updated =
                        company_properties::update(conn, account, &wanted.name, &wanted.value)
                            .await?;
                    (updated, false)
                }
            }
            None => {
                let inserted =
                    company_properties::insert(conn, account, &wanted.name, &wanted.value)
                        .await
                        .map_err(|error| match error {
                            StoreError::UniqueViolation { .. } => ApiError::Aborted(
                                "the property was created concurrently; retry".into(),
                            ),
                            other => other.into(),
                        })?;
                (inserted, true)
            }
        };
        Ok(pb::SetCompanyPropertyResponse {
            property: Some(to_proto(&property)),
            created,
        })
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetCompanyPropertyRequest,
) -> ApiResult<pb::GetCompanyPropertyResponse> {
    check_name("name", &request.name)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let property = company_properties::get(&mut conn, account, &request.name)
        .await?
        .ok_or_else(|| ApiError::not_found("company property", &request.name))?;
    Ok(pb::GetCompanyPropertyResponse {
        property: Some(to_proto(&property)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListCompanyPropertiesRequest,
) -> ApiResult<pb::ListCompanyPropertiesResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    if page
        .after
        .as_deref()
        .is_some_and(|name| !is_property_name(name))
    {
        return Err(ApiError::invalid(
            "page_token",
            "not a token this service issued",
        ));
    }
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let mut pager = Pager::new(&page, page.after.clone());
    while let Some((after, limit)) = pager.next_query() {
        let rows = company_properties::list(&mut conn, account, after.as_deref(), limit).await?;
        pager.add(rows, |p| p.name.clone(), to_proto);
    }
    let (properties, next_page_token) = pager.finish(String::clone);
    Ok(pb::ListCompanyPropertiesResponse {
        properties,
        next_page_token,
    })
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteCompanyPropertyRequest,
) -> ApiResult<pb::DeleteCompanyPropertyResponse> {
    let key = RequestKey::new(caller, "DeleteCompanyProperty", &request.request_id)?;
    access::role(caller, Need::Admin)?;
    check_name("name", &request.name)?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::account(conn, caller, &request.account_id, "account_id", Need::Admin).await?;
        access::require_agency_for_client(conn, caller, account).await?;
        let current = company_properties::get_for_update(conn, account, &request.name)
            .await?
            .ok_or_else(|| ApiError::not_found("company property", &request.name))?;
        replay::require_etag(&request.etag, &current.etag(), "property")?;
        company_properties::delete(conn, account, &request.name).await?;
        Ok(pb::DeleteCompanyPropertyResponse {})
    })
    .await
}
