//! Company properties (I13): set and deleted by the admins of an account; a client's only
//! by its agency.

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, StoreError};

use super::access::{self, Need};
use crate::domain::stored::{CompanyProperty, Stored};
use crate::store::company_properties;

/// The account a change of its properties names (`requested`, empty: the caller's own),
/// once the caller may change them.
async fn account(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    field: &str,
) -> ApiResult<uuid::Uuid> {
    let account = access::Target::new(requested, field, Need::Admin)
        .resolve(conn, caller)
        .await?;
    access::require_agency_for_client(conn, caller, account).await?;
    Ok(account)
}

/// Sets the property `name` to `value`, at the caller's etag when it exists; the property
/// and whether it was created. The same value again writes nothing.
pub async fn set(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (name, sent_etag): (&str, &str),
    value: &str,
) -> ApiResult<(CompanyProperty, bool)> {
    let account = account(conn, caller, requested, "property.account_id").await?;
    match company_properties::get_for_update(conn, account, name).await? {
        Some(current) => {
            trellis_platform::etag::require(sent_etag, &current.etag(), "property")?;
            if current.value == value {
                return Ok((current, false));
            }
            let updated = company_properties::update(conn, account, name, value).await?;
            Ok((updated, false))
        }
        None => {
            let inserted = company_properties::insert(conn, account, name, value)
                .await
                .map_err(|error| match error {
                    StoreError::UniqueViolation { .. } => {
                        ApiError::Aborted("the property was created concurrently; retry".into())
                    }
                    other => other.into(),
                })?;
            Ok((inserted, true))
        }
    }
}

/// Deletes the property `name`, at the caller's etag.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (name, sent_etag): (&str, &str),
) -> ApiResult<()> {
    let account = account(conn, caller, requested, "account_id").await?;
    super::locked::<CompanyProperty>(conn, account, name, sent_etag).await?;
    company_properties::delete(conn, account, name).await?;
    Ok(())
}
