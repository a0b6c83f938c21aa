//! Variables: created and changed in an account. With allowed values, a variable's default
//! is one of them.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, StoreError};

use super::access::{self, Need};
use crate::domain::stored::Variable;
use crate::store::variables::{self, NewVariable};

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

/// A new variable in the account the caller names (`requested`, empty: its own).
pub async fn create(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    new: &NewVariable<'_>,
) -> ApiResult<Variable> {
    let account = access::Target::new(requested, "variable.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    check_default_allowed(new.allowed_values, new.default_value)?;
    variables::insert(conn, account, new)
        .await
        .map_err(|error| match error {
            StoreError::UniqueViolation { .. } => ApiError::AlreadyExists {
                resource: "variable",
                id: new.name.to_owned(),
            },
            other => other.into(),
        })
}

/// Writes `change` over the variable `name`, read at the caller's etag. The same fields
/// again write nothing.
pub async fn update(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (name, sent_etag): (&str, &str),
    change: impl FnOnce(&mut Variable),
) -> ApiResult<Variable> {
    let account = access::Target::new(requested, "variable.account_id", Need::Write)
        .resolve(conn, caller)
        .await?;
    let current = super::locked::<Variable>(conn, account, name, sent_etag).await?;
    let mut next = current.clone();
    change(&mut next);
    check_default_allowed(&next.allowed_values, &next.default_value)?;
    if (&next.default_value, &next.description, &next.allowed_values)
        == (
            &current.default_value,
            &current.description,
            &current.allowed_values,
        )
    {
        return Ok(current);
    }
    Ok(variables::update(conn, &next).await?)
}
