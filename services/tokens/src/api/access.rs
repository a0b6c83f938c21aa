//! GetAccessToken (I6, exactly-once refresh) and GetTokenLimits (F5): the refresh service's
//! view of tokens. Service only.

use tonic::Request;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::request::{caller, id};
use trellis_platform::validate;
use trellis_proto::tokens::v1::*;

use super::grants::check_fingerprint;
use super::validate::MAX_ID_CHARS;
use super::{TokensApi, convert, ids};
use crate::app::access::TokenUseAsked;

impl TokensApi {
    pub(super) async fn get_access_token(
        &self,
        request: Request<GetAccessTokenRequest>,
    ) -> ApiResult<GetAccessTokenResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let parsed = ids(
            &mut violations,
            [
                ("token_id", &request.token_id),
                ("account_id", &request.account_id),
                ("data_source_id", &request.data_source_id),
            ],
        );
        check_fingerprint(
            &mut violations,
            "request_fingerprint",
            &request.request_fingerprint,
        );
        if request.rejected_generation < 0 {
            violations.add("rejected_generation", "must not be negative");
        }
        violations.into_result()?;
        let [token_id, account_id, data_source_id] = parsed?;
        let access = self
            .app
            .access_token(TokenUseAsked {
                token_id,
                account_id,
                data_source_id,
                request_fingerprint: &request.request_fingerprint,
                rejected_generation: request.rejected_generation,
            })
            .await?;
        Ok(GetAccessTokenResponse {
            access_token: access.access_token.expose().to_owned(),
            token_type: access.token_type,
            expire_time: access.expire_time.map(convert::timestamp),
            refreshed: access.refreshed,
            generation: access.generation,
            parameters: access.parameters.into_iter().collect(),
        })
    }

    pub(super) async fn get_token_limits(
        &self,
        request: Request<GetTokenLimitsRequest>,
    ) -> ApiResult<GetTokenLimitsResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let token_id = id("token_id", &request.token_id)?;
        let mut violations = Violations::new();
        validate::single_line(
            &mut violations,
            "rate_limit_key",
            &request.rate_limit_key,
            MAX_ID_CHARS,
        );
        violations.into_result()?;
        let provider = self.app.token_limits(token_id).await?;
        let limits = provider.limits();
        Ok(GetTokenLimitsResponse {
            provider_id: provider.id.to_string(),
            token_limit: Some(convert::limit(&limits.token)),
            rate_limit_key_limit: (!request.rate_limit_key.is_empty())
                .then(|| convert::limit(&limits.rate_limit_key)),
        })
    }
}
