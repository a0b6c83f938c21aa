//! Variables: CreateVariable, GetVariable, ListVariables, UpdateVariable, DeleteVariable.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_proto::library::v1 as pb;

use super::access::{self, Need};
use super::convert::timestamp;
use super::mask::Mask;
use super::pages::Pager;
use super::replay::{self, RequestKey};
use crate::domain::names::{check_property_name, check_text, check_value, is_property_name};
use crate::domain::stored::Variable;
use crate::store::variables;
use crate::store::variables::NewVariable;

pub const MAX_VALUE_BYTES: usize = 8 * 1024;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// The most values a user input control offers.
pub const MAX_ALLOWED_VALUES: usize = 500;

fn to_proto(variable: &Variable) -> pb::Variable {
    pb::Variable {
        account_id: variable.account_id.to_string(),
        name: variable.name.clone(),
        default_value: variable.default_value.clone(),
        description: variable.description.clone(),
        allowed_values: variable.allowed_values.clone(),
        etag: variable.etag(),
        create_time: timestamp(variable.created_at),
        update_time: timestamp(variable.updated_at),
    }
}

fn check_fields(violations: &mut Violations, variable: &pb::Variable) {
    let (default_value, description) = (&variable.default_value, &variable.description);
    check_value(
        violations,
        "variable.default_value",
        default_value,
        MAX_VALUE_BYTES,
    );
    check_allowed_values(violations, &variable.allowed_values);
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.add(
            "variable.description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    } else {
        check_text(violations, "variable.description", description);
    }
}

fn check_allowed_values(violations: &mut Violations, allowed: &[String]) {
    if allowed.len() > MAX_ALLOWED_VALUES {
        return violations.add(
            "variable.allowed_values",
            format!("at most {MAX_ALLOWED_VALUES} values are allowed"),
        );
    }
    for (i, value) in allowed.iter().enumerate() {
        check_value(
            violations,
            &format!("variable.allowed_values[{i}]"),
            value,
            MAX_VALUE_BYTES,
        );
    }
}

/// With allowed values, the default must be one of them (an empty default means none).
fn check_default_allowed(allowed_values: &[String], default_value: &str) -> ApiResult<()> {
    if allowed_values.is_empty()
        || default_value.is_empty()
        || allowed_values.iter().any(|v| v == default_value)
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "variable.default_value",
            "must be one of the variable's allowed_values",
        ))
    }
}

/// A user's value must be one of the allowed values, when the variable has any (I13).
pub fn check_user_value(variable: &Variable, value: &str) -> ApiResult<()> {
    if variable.allowed_values.is_empty() || variable.allowed_values.iter().any(|v| v == value) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "value",
            format!(
                "is not one of the {} values variable {} allows",
                variable.allowed_values.len(),
                variable.name
            ),
        ))
    }
}

fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let mut violations = Violations::new();
    check_property_name(&mut violations, field, name);
    violations.into_result()
}

pub async fn create(
    pool: &DbPool,
    caller: &Caller,
    request: pb::CreateVariableRequest,
) -> ApiResult<pb::CreateVariableResponse> {
    let key = RequestKey::new(caller, "CreateVariable", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.variable.unwrap_or_default();
    let mut violations = Violations::new();
    check_property_name(&mut violations, "variable.name", &wanted.name);
    check_fields(&mut violations, &wanted);
    violations.into_result()?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "variable.account_id",
            Need::Write,
        )
        .await?;
        let new = NewVariable {
            name: &wanted.name,
            default_value: &wanted.default_value,
            description: &wanted.description,
            allowed_values: &wanted.allowed_values,
        };
        check_default_allowed(new.allowed_values, new.default_value)?;
        let variable =
            variables::insert(conn, account, &new)
                .await
                .map_err(|error| match error {
                    StoreError::UniqueViolation { .. } => ApiError::AlreadyExists {
                        resource: "variable",
                        id: wanted.name.clone(),
                    },
                    other => other.into(),
                })?;
        Ok(pb::CreateVariableResponse {
            variable: Some(to_proto(&variable)),
        })
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetVariableRequest,
) -> ApiResult<pb::GetVariableResponse> {
    check_name("name", &request.name)?;
    let (mut conn, account) = access::reading(pool, caller, &request.account_id).await?;
    let variable = variables::get(&mut conn, account, &request.name)
        .await?
        .ok_or_else(|| ApiError::not_found("variable", &request.name))?;
    Ok(pb::GetVariableResponse {
        variable: Some(to_proto(&variable)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListVariablesRequest,
) -> ApiResult<pb::ListVariablesResponse> {
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
        let rows = variables::list(&mut conn, account, after.as_deref(), limit).await?;
        pager.add(rows, |v| v.name.clone(), to_proto);
    }
    let (variables, next_page_token) = pager.finish(String::clone);
    Ok(pb::ListVariablesResponse {
        variables,
        next_page_token,
    })
}

pub async fn update(
    pool: &DbPool,
    caller: &Caller,
    request: pb::UpdateVariableRequest,
) -> ApiResult<pb::UpdateVariableResponse> {
    let key = RequestKey::new(caller, "UpdateVariable", &request.request_id)?;
    access::role(caller, Need::Write)?;
    let wanted = request.variable.unwrap_or_default();
    check_name("variable.name", &wanted.name)?;
    let mask = Mask::parse(
        request.update_mask.as_ref(),
        &["default_value", "description", "allowed_values"],
        || {
            let mut set = vec![];
            if !wanted.default_value.is_empty() {
                set.push("default_value");
            }
            if !wanted.description.is_empty() {
                set.push("description");
            }
            if !wanted.allowed_values.is_empty() {
                set.push("allowed_values");
            }
            set
        },
    )?;
    let mut violations = Violations::new();
    check_fields(&mut violations, &wanted);
    violations.into_result()?;

    replay::write(pool, &key, async |conn| {
        let account = access::account(
            conn,
            caller,
            &wanted.account_id,
            "variable.account_id",
            Need::Write,
        )
        .await?;
        let current = variables::get_for_update(conn, account, &wanted.name)
            .await?
            .ok_or_else(|| ApiError::not_found("variable", &wanted.name))?;
        replay::require_etag(&wanted.etag, &current.etag(), "variable")?;
        let mut next = current.clone();
        if mask.has("default_value") {
            next.default_value = wanted.default_value.clone();
        }
        if mask.has("description") {
            next.description = wanted.description.clone();
        }
        if mask.has("allowed_values") {
            next.allowed_values = wanted.allowed_values.clone();
        }
        check_default_allowed(&next.allowed_values, &next.default_value)?;
        let variable = if (&next.default_value, &next.description, &next.allowed_values)
            == (
                &current.default_value,
                &current.description,
                &current.allowed_values,
            ) {
            current
        } else {
            variables::update(conn, &next).await?
        };
        Ok(pb::UpdateVariableResponse {
            variable: Some(to_proto(&variable)),
        })
    })
    .await
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    request: pb::DeleteVariableRequest,
) -> ApiResult<pb::DeleteVariableResponse> {
    let key = RequestKey::new(caller, "DeleteVariable", &request.request_id)?;
    access::role(caller, Need::Write)?;
    check_name("name", &request.name)?;

    replay::write(pool, &key, async |conn| {
        let account =
            access::account(conn, caller, &request.account_id, "account_id", Need::Write).await?;
        let current = variables::get_for_update(conn, account, &request.name)
            .await?
            .ok_or_else(|| ApiError::not_found("variable", &request.name))?;
        replay::require_etag(&request.etag, &current.etag(), "variable")?;
        variables::delete(conn, account, &request.name).await?;
        Ok(pb::DeleteVariableResponse {})
    })
    .await
}
