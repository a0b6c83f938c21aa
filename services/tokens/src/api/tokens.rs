//! ListTokens, GetToken, UpdateToken, DeleteToken (T1) and GetTokenUsage (T3).

use diesel_async::AsyncConnection;
use tonic::Request;
use tonic_types::PreconditionViolation;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::validate::{check_name, mask_paths};
use super::{
    TokensApi, account_of, caller, check_etag, check_request_id, idempotency_scope, parse_id,
    parse_optional_id, replayed, require_account,
};
use crate::convert;
use crate::domain::authorization::not_found_as;
use crate::domain::{client_secret, columns, open};
use crate::store::tokens::{self as store, StoredToken};
use crate::store::{TxError, grants, issued, providers};
use trellis_platform::error::Violations;

impl TokensApi {
    /// The token `id` of `account`; NOT_FOUND when it is not there, in that account.
    async fn token_in(&self, id: Uuid, account: Uuid) -> ApiResult<StoredToken> {
        let mut conn = self.conn().await?;
        let stored = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        if stored.token.account_id != account {
            return Err(ApiError::not_found("token", id));
        }
        Ok(stored)
    }

    pub(super) async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> ApiResult<ListTokensResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let provider = parse_optional_id("provider_id", &request.provider_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let after = page
            .after
            .as_deref()
            .map(|key| {
                Uuid::parse_str(key)
                    .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))
            })
            .transpose()?;
        let mut conn = self.conn().await?;
        // T1: only tokens the account owns; grants to it are never connected accounts.
        let mut rows = store::list(&mut conn, account, provider, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |r| r.token.id.to_string());
        Ok(ListTokensResponse {
            tokens: rows.iter().map(convert::token).collect(),
            next_page_token,
        })
    }

    pub(super) async fn get_token(
        &self,
        request: Request<GetTokenRequest>,
    ) -> ApiResult<GetTokenResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let stored = self.token_in(id, account).await?;
        Ok(GetTokenResponse {
            token: Some(convert::token(&stored)),
        })
    }

    pub(super) async fn update_token(
        &self,
        request: Request<UpdateTokenRequest>,
    ) -> ApiResult<UpdateTokenResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let given = request
            .token
            .ok_or_else(|| ApiError::invalid("token", "required"))?;
        let id = parse_id("token.id", &given.id)?;
        let account = account_of(&caller, "token.account_id", &given.account_id)?;
        let paths = mask_paths(request.update_mask.as_ref(), &["display_name"], |_| {
            !given.display_name.is_empty()
        })?;
        let mut violations = Violations::new();
        if paths.iter().any(|p| p == "display_name") {
            check_name(&mut violations, "token.display_name", &given.display_name);
        }
        violations.into_result()?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "UpdateToken";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let current = store::get_for_update(conn, id)
                    .await
                    .map_err(|e| missing(e, id))?;
                if current.token.account_id != account {
                    return Err(ApiError::not_found("token", id).into());
                }
                check_etag(&given.etag, &current.etag())?;
                if !paths.is_empty() {
                    store::rename(conn, id, given.display_name.trim()).await?;
                }
                let stored = store::get(conn, id).await?;
                let response = UpdateTokenResponse {
                    token: Some(convert::token(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn delete_token(
        &self,
        request: Request<DeleteTokenRequest>,
    ) -> ApiResult<DeleteTokenResponse> {
        const METHOD: &str = "DeleteToken";
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let scope = idempotency_scope(&caller);
        {
            let mut conn = self.conn().await?;
            if let Some(response) = replayed(&mut conn, &scope, METHOD, &request.request_id).await?
            {
                return Ok(response);
            }
        }
        let stored = self.token_in(id, account).await?;
        check_etag(&request.etag, &stored.etag())?;

        // T3: who breaks. Refuse unless forced while anything uses the token.
        let uses = {
            let mut conn = self.conn().await?;
            let token_grants = grants::of_token(&mut conn, id).await?;
            self.usage.uses(id, account, &token_grants).await?
        };
        if !uses.is_empty() && !request.force {
            let violations = uses
                .iter()
                .map(|u| {
                    PreconditionViolation::new(
                        "TOKEN_IN_USE",
                        format!("dataSources/{}", u.data_source_id),
                        format!(
                            "data source {:?} of account {} uses the token{}; set force to delete it anyway",
                            u.data_source_name,
                            u.account_id,
                            if u.master { "" } else { " through a grant" }
                        ),
                    )
                })
                .collect();
            return Err(ApiError::FailedPrecondition(violations));
        }

        let revoked_at_provider = self.revoke_at_provider(&stored).await?;
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                grants::delete_of_token(conn, id).await?;
                issued::forget(conn, id, revoked_at_provider).await?;
                if uses.is_empty() {
                    store::delete(conn, id).await?;
                } else {
                    // Kept as a tombstone so that the data sources still naming it learn it
                    // was revoked, not that it never existed.
                    store::mark_revoked(conn, id).await?;
                }
                let response = DeleteTokenResponse {
                    affected_data_sources: uses,
                    revoked_at_provider,
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    /// Revokes the token at its provider when the provider has a revocation endpoint;
    /// true when the provider confirmed. A failure is logged and the token forgotten anyway.
    async fn revoke_at_provider(&self, stored: &StoredToken) -> ApiResult<bool> {
        let mut conn = self.conn().await?;
        let provider = providers::get(&mut conn, stored.token.provider_id).await?;
        drop(conn);
        if provider.revocation_url.is_empty() || stored.token.status == store::REVOKED {
            return Ok(false);
        }
        let id = stored.token.id.to_string();
        let refresh = stored
            .secrets
            .refresh_token
            .as_deref()
            .map(|s| open(&self.keyring, s, columns::REFRESH_TOKEN, &id))
            .transpose()?;
        let access = stored
            .secrets
            .access_token
            .as_deref()
            .map(|s| open(&self.keyring, s, columns::ACCESS_TOKEN, &id))
            .transpose()?;
        let secret = client_secret(&self.keyring, &provider)?;
        match self
            .oauth
            .revoke(
                &provider,
                secret.as_ref(),
                refresh.as_ref(),
                access.as_ref(),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(error) => {
                tracing::warn!(token_id = %stored.token.id, error = %error, "revocation at the provider failed; forgetting the token anyway");
                Ok(false)
            }
        }
    }

    pub(super) async fn get_token_usage(
        &self,
        request: Request<GetTokenUsageRequest>,
    ) -> ApiResult<GetTokenUsageResponse> {
        let caller = caller(&request)?;
        let id = parse_id("token_id", &request.get_ref().token_id)?;
        let mut conn = self.conn().await?;
        let stored = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        if require_account(&caller, stored.token.account_id).is_err() {
            // Whether a token of another account exists is not the caller's to learn.
            return Err(ApiError::not_found("token", id));
        }
        let token_grants = grants::of_token(&mut conn, id).await?;
        drop(conn);
        let uses = self
            .usage
            .uses(id, stored.token.account_id, &token_grants)
            .await?;
        Ok(GetTokenUsageResponse { uses })
    }
}

fn missing(error: StoreError, id: Uuid) -> ApiError {
    not_found_as(error, "token", id).into()
}
