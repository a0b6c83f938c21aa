//! CheckDataSourceAuth: whether a data source may name a token or credential (I14, I15),
//! asked by the library when a data source is saved.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::{TokensApi, caller, parse_id};
use crate::store::{credentials, grants, tokens};

impl TokensApi {
    pub(super) async fn check_data_source_auth(
        &self,
        request: Request<CheckDataSourceAuthRequest>,
    ) -> ApiResult<CheckDataSourceAuthResponse> {
        caller(&request)?.require_service()?;
        let request = request.into_inner();
        let account = parse_id("account_id", &request.account_id)?;
        let data_source = match request.data_source_id.as_str() {
            "" => None,
            id => Some(parse_id("data_source_id", id)?),
        };
        let mut conn = self.conn().await?;
        // Only a binding to this very query serves it: an unbound (older) grant or copy serves
        // the query it was imported with, which a save that reaches here has changed.
        let serves = |bound: &str| !bound.is_empty() && bound == request.request_fingerprint;
        let mut serves_request = false;
        let holding = match request.auth {
            Some(Auth::TokenId(id)) => {
                let id = parse_id("token_id", &id)?;
                let token = found(tokens::get(&mut conn, id).await)?;
                match token {
                    None => AuthHolding::Unspecified,
                    Some(token) if token.token.account_id == account => AuthHolding::Owned,
                    Some(_) => match data_source {
                        Some(data_source) => grants::find(&mut conn, id, data_source)
                            .await?
                            .filter(|grant| grant.grantee_account_id == account)
                            .map_or(AuthHolding::Unspecified, |grant| {
                                serves_request = serves(&grant.request_fingerprint);
                                AuthHolding::Borrowed
                            }),
                        None => AuthHolding::Unspecified,
                    },
                }
            }
            Some(Auth::CredentialId(id)) => {
                let id = parse_id("credential_id", &id)?;
                match found(credentials::get(&mut conn, id).await)? {
                    Some(credential) if credential.account_id == account => {
                        let holding =
                            holding_of_credential(credential.scoped_data_source_id, data_source);
                        serves_request = serves(&credential.request_fingerprint);
                        holding
                    }
                    _ => AuthHolding::Unspecified,
                }
            }
            None => {
                return Err(ApiError::invalid(
                    "auth",
                    "a token_id or credential_id is required",
                ));
            }
        };
        Ok(CheckDataSourceAuthResponse {
            holding: holding as i32,
            serves_request: holding == AuthHolding::Borrowed && serves_request,
        })
    }
}

/// An account's own credential is owned; a copy (I5) serves only the data source it is
/// scoped to, and is borrowed there.
fn holding_of_credential(scoped_to: Option<Uuid>, data_source: Option<Uuid>) -> AuthHolding {
    match scoped_to {
        None => AuthHolding::Owned,
        Some(scope) if Some(scope) == data_source => AuthHolding::Borrowed,
        Some(_) => AuthHolding::Unspecified,
    }
}

fn found<T>(result: Result<T, StoreError>) -> ApiResult<Option<T>> {
    match result {
        Ok(row) => Ok(Some(row)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_borrowed_only_by_its_own_data_source() {
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(holding_of_credential(None, Some(mine)), AuthHolding::Owned);
        assert_eq!(holding_of_credential(None, None), AuthHolding::Owned);
        assert_eq!(
            holding_of_credential(Some(mine), Some(mine)),
            AuthHolding::Borrowed
        );
        assert_eq!(
            holding_of_credential(Some(mine), Some(other)),
            AuthHolding::Unspecified
        );
        assert_eq!(
            holding_of_credential(Some(mine), None),
            AuthHolding::Unspecified
        );
    }
}
