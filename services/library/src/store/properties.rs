//! What `{props.NAME}` and formula variables resolve to for one account and user (I13).

use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{company_properties, variables};
use crate::domain::properties::PropertySources;

/// The user's values (none without a user), the account's company properties and its
/// variables' defaults.
pub async fn sources(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    user: Option<&str>,
) -> Result<PropertySources, StoreError> {
    Ok(PropertySources {
        user_values: match user {
            Some(user) => variables::user_values(conn, account, user).await?,
            None => Default::default(),
        },
        company_properties: company_properties::values(conn, account).await?,
        variable_defaults: variables::defaults(conn, account)
            .await?
            .into_iter()
            .map(|(name, variable)| (name, variable.default_value))
            .collect(),
    })
}
