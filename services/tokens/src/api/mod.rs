//! gRPC handlers of `trellis.tokens.v1.TokenService`: authorize the caller, validate the
//! request, call the stores or the domain, answer. Each group of methods has its module;
//! the trait implementation below only routes.

mod access;
mod authorization;
mod credential_copies;
mod credentials;
mod grants;
mod holding;
mod providers;
mod tokens;
mod validate;

use diesel_async::AsyncPgConnection;
use tonic::{Request, Response, Status};
use trellis_platform::auth::{self, Caller};
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_platform::idempotency;
use trellis_proto::tokens::v1::token_service_server::TokenService;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::domain::access::AccessTokens;
use crate::domain::authorization::Authorizations;
use crate::domain::usage::UsageFinder;

pub struct TokensApi {
    pub(crate) pool: DbPool,
    pub(crate) keyring: Keyring,
    pub(crate) access: AccessTokens,
    pub(crate) authorizations: Authorizations,
    pub(crate) usage: UsageFinder,
    pub(crate) oauth: crate::oauth::OAuthClient,
}

impl TokensApi {
    async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await.map_err(StoreError::from)?)
    }
}

/// The verified caller of a request.
fn caller<T>(request: &Request<T>) -> ApiResult<Caller> {
    auth::caller(request).map_err(|status| ApiError::Unauthenticated(status.message().to_owned()))
}

/// Request ids are remembered per caller: the same id from another caller is another call.
fn idempotency_scope(caller: &Caller) -> String {
    format!("{}\u{1f}{}", caller.claims.acct, caller.claims.sub)
}

/// A UUID field of a request.
fn parse_id(field: &str, value: &str) -> ApiResult<Uuid> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

fn parse_optional_id(field: &str, value: &str) -> ApiResult<Option<Uuid>> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse_id(field, value).map(Some)
    }
}

/// The account a request is about: empty means the caller's signed-in account; another
/// account than the caller's is refused, except for service callers, which must name one.
fn account_of(caller: &Caller, field: &str, requested: &str) -> ApiResult<Uuid> {
    if caller.is_service() {
        if requested.is_empty() {
            return Err(ApiError::invalid(
                field,
                "required with a service token (it is signed into no account)",
            ));
        }
        return parse_id(field, requested);
    }
    let own = caller.account()?;
    if requested.is_empty() {
        return Ok(own);
    }
    let requested = parse_id(field, requested)?;
    if requested != own {
        return Err(ApiError::PermissionDenied(
            "the caller is not signed into that account".into(),
        ));
    }
    Ok(requested)
}

/// The caller may read resources of `account`.
fn require_account(caller: &Caller, account: Uuid) -> ApiResult<()> {
    if caller.is_service() || caller.account()? == account {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "the resource belongs to another account".into(),
        ))
    }
}

/// An `etag` given by the caller must match.
fn check_etag(given: &str, current: &str) -> ApiResult<()> {
    if given.is_empty() || given == current {
        Ok(())
    } else {
        Err(ApiError::Aborted(format!(
            "the resource changed since it was read (etag {given:?}, now {current:?}); read it again"
        )))
    }
}

fn check_request_id(request_id: &str) -> ApiResult<()> {
    idempotency::validate(request_id)
}

/// The stored answer to an earlier call with this request id, if any.
async fn replayed<R: prost::Message + Default>(
    conn: &mut AsyncPgConnection,
    scope: &str,
    method: &str,
    request_id: &str,
) -> Result<Option<R>, StoreError> {
    idempotency::replay(conn, scope, method, request_id).await
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
