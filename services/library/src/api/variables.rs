//! Variables: CreateVariable, GetVariable, ListVariables, UpdateVariable, DeleteVariable.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_proto::library::v1 as pb;

use super::convert::timestamp;
use super::mask::Mask;
use crate::app::access::{self, Need};
use crate::app::pages::Pager;
use crate::app::variables as app;
use crate::domain::names::{check_property_name, check_text, check_value};
use crate::domain::stored::Stored;
use crate::domain::stored::Variable;
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

    let new = NewVariable {
        name: &wanted.name,
        default_value: &wanted.default_value,
        description: &wanted.description,
        allowed_values: &wanted.allowed_values,
    };
    let answer = |variable: Variable| pb::CreateVariableResponse {
        variable: Some(to_proto(&variable)),
    };
    replay::write(pool, &key, async |conn| {
        Ok(answer(
            app::create(conn, caller, &wanted.account_id, &new).await?,
        ))
    })
    .await
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetVariableRequest,
) -> ApiResult<pb::GetVariableResponse> {
    check_name("name", &request.name)?;
    let variable: Variable =
        crate::app::read(pool, caller, &request.account_id, request.name.as_str()).await?;
    Ok(pb::GetVariableResponse {
        variable: Some(to_proto(&variable)),
    })
}

pub async fn list(
    pool: &DbPool,
    caller: &Caller,
    request: pb::ListVariablesRequest,
) -> ApiResult<pb::ListVariablesResponse> {
    let pager = Pager::parse(request.page_size, &request.page_token)?;
    let (variables, next_page_token) =
        crate::app::list_named::<Variable, _>(pool, caller, &request.account_id, pager, to_proto)
            .await?;
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
        &[
            ("default_value", !wanted.default_value.is_empty()),
            ("description", !wanted.description.is_empty()),
            ("allowed_values", !wanted.allowed_values.is_empty()),
        ],
    )?;
    let mut violations = Violations::new();
    check_fields(&mut violations, &wanted);
    violations.into_result()?;

    let change = |next: &mut Variable| {
        if mask.has("default_value") {
            next.default_value = wanted.default_value.clone();
        }
        if mask.has("description") {
            next.description = wanted.description.clone();
        }
        if mask.has("allowed_values") {
            next.allowed_values = wanted.allowed_values.clone();
        }
    };
    let answer = |variable: Variable| pb::UpdateVariableResponse {
        variable: Some(to_proto(&variable)),
    };
    let what = (wanted.name.as_str(), wanted.etag.as_str());
    replay::write(pool, &key, async |conn| {
        Ok(answer(
            app::update(conn, caller, &wanted.account_id, what, change).await?,
        ))
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
        let what = (request.name.as_str(), request.etag.as_str());
        crate::app::delete::<Variable>(conn, caller, &request.account_id, what, Need::Write)
            .await?;
        Ok(pb::DeleteVariableResponse {})
    })
    .await
}
