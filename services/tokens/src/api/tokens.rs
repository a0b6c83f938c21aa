//! ListTokens, GetToken, UpdateToken, DeleteToken (T1) and GetTokenUsage (T3).

use tonic::Request;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{account_of, caller, id, optional_id, required};
use trellis_proto::tokens::v1::*;

use super::validate::{check_name, mask_paths};
use super::{TokensApi, convert, viewer};
use crate::app::tokens as app;
use trellis_platform::replay::{self, RequestKey};

impl TokensApi {
    pub(super) async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> ApiResult<ListTokensResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let provider = optional_id("provider_id", &request.provider_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut rows = self
            .app
            .list_tokens(account, provider, page.after_id()?, page.fetch_limit())
            .await?;
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
        let id = id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let stored = self.app.token_in(id, account).await?;
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
        let key = RequestKey::new(&caller, "UpdateToken", &request.request_id)?;
        let given = required("token", request.token)?;
        let id = id("token.id", &given.id)?;
        let account = account_of(&caller, "token.account_id", &given.account_id)?;
        let paths = mask_paths(request.update_mask.as_ref(), &["display_name"], |_| {
            !given.display_name.is_empty()
        })?;
        let mut violations = Violations::new();
        if paths.iter().any(|p| p == "display_name") {
            check_name(&mut violations, "token.display_name", &given.display_name);
        }
        violations.into_result()?;
        let name = (!paths.is_empty()).then(|| given.display_name.trim());
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::rename(conn, id, account, &given.etag, name).await?;
            Ok(UpdateTokenResponse {
                token: Some(convert::token(&stored)),
            })
        })
        .await
    }

    pub(super) async fn delete_token(
        &self,
        request: Request<DeleteTokenRequest>,
    ) -> ApiResult<DeleteTokenResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteToken", &request.request_id)?;
        let id = id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        // A retry is answered before the token is revoked at the provider again.
        if let Some(response) = key.replay(&mut *self.app.conn().await?).await? {
            return Ok(response);
        }
        let deletion = self
            .app
            .prepare_token_deletion(id, account, &request.etag, request.force)
            .await?;
        replay::write(&self.app.pool, &key, async |conn| {
            app::delete(conn, id, &deletion).await?;
            Ok(DeleteTokenResponse {
                affected_data_sources: convert::token_uses(deletion.uses.clone()),
                revoked_at_provider: deletion.revoked_at_provider,
            })
        })
        .await
    }

    pub(super) async fn get_token_usage(
        &self,
        request: Request<GetTokenUsageRequest>,
    ) -> ApiResult<GetTokenUsageResponse> {
        let caller = caller(&request)?;
        let id = id("token_id", &request.get_ref().token_id)?;
        let uses = self.app.token_usage(id, viewer(&caller)?).await?;
        Ok(GetTokenUsageResponse {
            uses: convert::token_uses(uses),
        })
    }
}
