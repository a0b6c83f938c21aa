//! Company properties (I13): SetCompanyProperty, GetCompanyProperty, ListCompanyProperties,
//! DeleteCompanyProperty.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::library::v1 as pb;

use super::convert::timestamp;
use crate::app::access::{self, Need};
use crate::app::company_properties as app;
use crate::app::pages::Pager;
use crate::domain::names::{check_property_name, check_value};
use crate::domain::stored::CompanyProperty;
use crate::domain::stored::Stored;

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

    let what = (wanted.name.as_str(), wanted.etag.as_str());
    replay::write(pool, &key, async |conn| {
        let (property, created) =
            app::set(conn, caller, &wanted.account_id, what, &wanted.value).await?;
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
    let property: CompanyProperty =
        crate::app::read(pool, caller, &request.account_id, request.name.as_str()).await?;
    Ok(pb::GetCompanyPropertyResponse {
        property: Some(to_proto(&property)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListCompanyPropertiesRequest,
) -> ApiResult<pb::ListCompanyPropertiesResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let (properties, next_page_token) = crate::app::list_named::<CompanyProperty, _>(
        pool,
        caller,
        &request.account_id,
        pager,
        to_proto,
    )
    .await?;
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

    let what = (request.name.as_str(), request.etag.as_str());
    replay::write(pool, &key, async |conn| {
        app::delete(conn, caller, &request.account_id, what).await?;
        Ok(pb::DeleteCompanyPropertyResponse {})
    })
    .await
}
