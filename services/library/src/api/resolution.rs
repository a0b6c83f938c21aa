//! User values and property resolution (I13): SetUserVariableValue, ResolveProperties.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::timestamp;
use crate::app::access::{self, Need};
use crate::domain::names::{check_property_name, check_value};
use crate::domain::properties::{PropertySource, PropertySources, ResolvedProperty};
use crate::store::{self, variables};

pub const MAX_VALUE_BYTES: usize = 8 * 1024;
pub const MAX_NAMES: usize = 1000;

/// What `{props.NAME}` and formulas see in `account` for `user` (none: no user values).
pub async fn sources(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: Option<&str>,
) -> ApiResult<PropertySources> {
    Ok(store::properties::sources(conn, account, user).await?)
}

pub fn property_to_proto(property: &ResolvedProperty) -> pb::ResolvedProperty {
    let source = match property.source {
        PropertySource::UserValue => pb::PropertySource::UserValue,
        PropertySource::CompanyProperty => pb::PropertySource::CompanyProperty,
        PropertySource::VariableDefault => pb::PropertySource::VariableDefault,
    };
    pb::ResolvedProperty {
        name: property.name.clone(),
        value: property.value.clone(),
        source: source as i32,
    }
}

pub async fn set_user_value(
    pool: &DbPool,
    caller: &Caller,
    request: pb::SetUserVariableValueRequest,
) -> ApiResult<pb::SetUserVariableValueResponse> {
    let key = RequestKey::new(caller, "SetUserVariableValue", &request.request_id)?;
    let mut violations = Violations::new();
    check_property_name(&mut violations, "name", &request.name);
    check_value(&mut violations, "value", &request.value, MAX_VALUE_BYTES);
    violations.into_result()?;
    // Any role sets its own value: that is what a user input control does.
    let user = access::user(caller, &request.user_id)?
        .ok_or_else(|| ApiError::invalid("user_id", "is required with a service token"))?;

    replay::write(pool, &key, async |conn| {
        let account = access::Target::new(&request.account_id, "account_id", Need::Read)
            .resolve(conn, caller)
            .await?;
        let variable = variables::get(conn, account, &request.name)
            .await?
            .ok_or_else(|| ApiError::not_found("variable", &request.name))?;
        if !request.clear {
            super::variables::check_user_value(&variable, &request.value)?;
        }
        let user_value = if request.clear {
            variables::clear_user_value(conn, account, user, &request.name).await?;
            None
        } else {
            let stored =
                variables::set_user_value(conn, account, user, &request.name, &request.value)
                    .await?;
            Some(pb::UserVariableValue {
                account_id: stored.account_id.to_string(),
                user_id: stored.user_id,
                name: stored.name,
                value: stored.value,
                update_time: timestamp(stored.updated_at),
            })
        };
        Ok(pb::SetUserVariableValueResponse { user_value })
    })
    .await
}

pub async fn resolve(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ResolvePropertiesRequest,
) -> ApiResult<pb::ResolvePropertiesResponse> {
    let mut violations = Violations::new();
    if request.names.len() > MAX_NAMES {
        violations.add("names", format!("at most {MAX_NAMES} names are allowed"));
    }
    for (i, name) in request.names.iter().enumerate() {
        check_property_name(&mut violations, &format!("names[{i}]"), name);
    }
    violations.into_result()?;
    let user = access::user(caller, &request.user_id)?;

    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let sources = sources(&mut conn, account, user).await?;
    let names: Vec<String> = if request.names.is_empty() {
        sources.names().into_iter().collect()
    } else {
        request.names.clone()
    };
    let (resolved, unresolved) = sources.resolve_all(names.iter().map(String::as_str));
    Ok(pb::ResolvePropertiesResponse {
        values: resolved
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect(),
        properties: resolved.iter().map(property_to_proto).collect(),
        unresolved,
    })
}
