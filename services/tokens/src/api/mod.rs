//! gRPC handlers of `trellis.tokens.v1.TokenService`: authorize the caller, read the
//! request into typed values, call the use case in `crate::app`, convert the answer. Each
//! group of methods has its module; the trait implementation below only routes.

mod access;
mod authorization;
mod convert;
mod credential_copies;
mod credentials;
mod grants;
mod holding;
mod providers;
pub(crate) mod providers_catalogue;
mod tokens;
mod validate;

use tonic::{Request, Response, Status};
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_proto::tokens::v1::token_service_server::TokenService;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use crate::app::App;

pub struct TokensApi {
    pub(crate) app: App,
}

/// The account a caller is signed into, or none for a service (which sees every account).
fn viewer(caller: &Caller) -> ApiResult<Option<Uuid>> {
    if caller.is_service() {
        Ok(None)
    } else {
        caller.account().map(Some)
    }
}

/// Several UUID fields at once: each one that is missing or malformed is added to
/// `violations`, so that the caller learns of all of them in one answer.
fn ids<const N: usize>(
    violations: &mut Violations,
    fields: [(&str, &str); N],
) -> ApiResult<[Uuid; N]> {
    let mut first = None;
    let parsed = fields.map(|(field, text)| {
        Uuid::parse_str(text).unwrap_or_else(|_| {
            let problem = if text.is_empty() {
                "required"
            } else {
                "must be a UUID"
            };
            violations.add(field, problem);
            first.get_or_insert_with(|| ApiError::invalid(field, problem));
            Uuid::nil()
        })
    });
    match first {
        Some(error) => Err(error),
        None => Ok(parsed),
    }
}

fn respond<T>(result: ApiResult<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl TokenService for TokensApi {
    async fn create_provider(
        &self,
        request: Request<CreateProviderRequest>,
    ) -> Result<Response<CreateProviderResponse>, Status> {
        respond(self.create_provider(request).await)
    }

    async fn get_provider(
        &self,
        request: Request<GetProviderRequest>,
    ) -> Result<Response<GetProviderResponse>, Status> {
        respond(self.get_provider(request).await)
    }

    async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> Result<Response<ListProvidersResponse>, Status> {
        respond(self.list_providers(request).await)
    }

    async fn update_provider(
        &self,
        request: Request<UpdateProviderRequest>,
    ) -> Result<Response<UpdateProviderResponse>, Status> {
        respond(self.update_provider(request).await)
    }

    async fn delete_provider(
        &self,
        request: Request<DeleteProviderRequest>,
    ) -> Result<Response<DeleteProviderResponse>, Status> {
        respond(self.delete_provider(request).await)
    }

    async fn begin_authorization(
        &self,
        request: Request<BeginAuthorizationRequest>,
    ) -> Result<Response<BeginAuthorizationResponse>, Status> {
        respond(self.begin_authorization(request).await)
    }

    async fn complete_authorization(
        &self,
        request: Request<CompleteAuthorizationRequest>,
    ) -> Result<Response<CompleteAuthorizationResponse>, Status> {
        respond(self.complete_authorization(request).await)
    }

    async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        respond(self.list_tokens(request).await)
    }

    async fn get_token(
        &self,
        request: Request<GetTokenRequest>,
    ) -> Result<Response<GetTokenResponse>, Status> {
        respond(self.get_token(request).await)
    }

    async fn update_token(
        &self,
        request: Request<UpdateTokenRequest>,
    ) -> Result<Response<UpdateTokenResponse>, Status> {
        respond(self.update_token(request).await)
    }

    async fn delete_token(
        &self,
        request: Request<DeleteTokenRequest>,
    ) -> Result<Response<DeleteTokenResponse>, Status> {
        respond(self.delete_token(request).await)
    }

    async fn create_token_grant(
        &self,
        request: Request<CreateTokenGrantRequest>,
    ) -> Result<Response<CreateTokenGrantResponse>, Status> {
        respond(self.create_token_grant(request).await)
    }

    async fn get_token_grant(
        &self,
        request: Request<GetTokenGrantRequest>,
    ) -> Result<Response<GetTokenGrantResponse>, Status> {
        respond(self.get_token_grant(request).await)
    }

    async fn list_token_grants(
        &self,
        request: Request<ListTokenGrantsRequest>,
    ) -> Result<Response<ListTokenGrantsResponse>, Status> {
        respond(self.list_token_grants(request).await)
    }

    async fn delete_token_grant(
        &self,
        request: Request<DeleteTokenGrantRequest>,
    ) -> Result<Response<DeleteTokenGrantResponse>, Status> {
        respond(self.delete_token_grant(request).await)
    }

    async fn get_access_token(
        &self,
        request: Request<GetAccessTokenRequest>,
    ) -> Result<Response<GetAccessTokenResponse>, Status> {
        respond(self.get_access_token(request).await)
    }

    async fn get_token_usage(
        &self,
        request: Request<GetTokenUsageRequest>,
    ) -> Result<Response<GetTokenUsageResponse>, Status> {
        respond(self.get_token_usage(request).await)
    }

    async fn get_token_limits(
        &self,
        request: Request<GetTokenLimitsRequest>,
    ) -> Result<Response<GetTokenLimitsResponse>, Status> {
        respond(self.get_token_limits(request).await)
    }

    async fn create_credential(
        &self,
        request: Request<CreateCredentialRequest>,
    ) -> Result<Response<CreateCredentialResponse>, Status> {
        respond(self.create_credential(request).await)
    }

    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        respond(self.get_credential(request).await)
    }

    async fn list_credentials(
        &self,
        request: Request<ListCredentialsRequest>,
    ) -> Result<Response<ListCredentialsResponse>, Status> {
        respond(self.list_credentials(request).await)
    }

    async fn update_credential(
        &self,
        request: Request<UpdateCredentialRequest>,
    ) -> Result<Response<UpdateCredentialResponse>, Status> {
        respond(self.update_credential(request).await)
    }

    async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        respond(self.delete_credential(request).await)
    }

    async fn copy_credential(
        &self,
        request: Request<CopyCredentialRequest>,
    ) -> Result<Response<CopyCredentialResponse>, Status> {
        respond(self.copy_credential(request).await)
    }

    async fn get_credential_secret(
        &self,
        request: Request<GetCredentialSecretRequest>,
    ) -> Result<Response<GetCredentialSecretResponse>, Status> {
        respond(self.get_credential_secret(request).await)
    }

    async fn check_data_source_auth(
        &self,
        request: Request<CheckDataSourceAuthRequest>,
    ) -> Result<Response<CheckDataSourceAuthResponse>, Status> {
        respond(self.check_data_source_auth(request).await)
    }
}
