//! CheckDataSourceAuth: whether a data source may name a token or credential (I14, I15),
//! asked by the library when a data source is saved.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::request::{caller, id, optional_id};
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
use trellis_proto::tokens::v1::*;

use super::TokensApi;
use crate::app::holding::{Asker, Named};
use crate::domain::holding::Holding;

impl TokensApi {
    pub(super) async fn check_data_source_auth(
        &self,
        request: Request<CheckDataSourceAuthRequest>,
    ) -> ApiResult<CheckDataSourceAuthResponse> {
        caller(&request)?.require_service()?;
        let request = request.into_inner();
        let asker = Asker {
            account_id: id("account_id", &request.account_id)?,
            data_source_id: optional_id("data_source_id", &request.data_source_id)?,
            request_fingerprint: &request.request_fingerprint,
        };
        let named = match &request.auth {
            Some(Auth::TokenId(token)) => Named::Token(id("token_id", token)?),
            Some(Auth::CredentialId(credential)) => {
                Named::Credential(id("credential_id", credential)?)
            }
            None => {
                return Err(ApiError::invalid(
                    "auth",
                    "a token_id or credential_id is required",
                ));
            }
        };
        let (holding, serves_request) = self.app.holding(asker, named).await?;
        let holding = match holding {
            Holding::None => AuthHolding::Unspecified,
            Holding::Owned => AuthHolding::Owned,
            Holding::Borrowed => AuthHolding::Borrowed,
        };
        Ok(CheckDataSourceAuthResponse {
            holding: holding as i32,
            serves_request,
        })
    }
}
