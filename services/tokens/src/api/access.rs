//! GetAccessToken (I6, exactly-once refresh) and GetTokenLimits (F5): the refresh service's
//! view of tokens. Service only.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::validate;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::validate::MAX_ID_CHARS;
use super::{TokensApi, caller, parse_id};
use crate::convert;
use crate::domain::authorization::not_found_as;
use crate::store::{grants, providers, tokens};

impl TokensApi {
    pub(super) async fn get_access_token(
        &self,
        request: Request<GetAccessTokenRequest>,
    ) -> ApiResult<GetAccessTokenResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let mut parse = |field: &str, value: &str| match Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                violations.add(
                    field,
                    if value.is_empty() {
                        "required"
                    } else {
                        "must be a UUID"
                    },
                );
                None
            }
        };
        let token_id = parse("token_id", &request.token_id);
        let account = parse("account_id", &request.account_id);
        let data_source = parse("data_source_id", &request.data_source_id);
        super::grants::check_fingerprint(
            &mut violations,
            "request_fingerprint",
            &request.request_fingerprint,
        );
        if request.rejected_generation < 0 {
            violations.add("rejected_generation", "must not be negative");
        }
        violations.into_result()?;
        let (Some(token_id), Some(account), Some(data_source)) = (token_id, account, data_source)
        else {
            unreachable!("violations are reported above");
        };

        // I6: the owner's data sources, or exactly the data source a grant names.
        {
            let mut conn = self.conn().await?;
            let stored = tokens::get(&mut conn, token_id)
                .await
                .map_err(|e| ApiError::from(not_found_as(e, "token", token_id)))?;
            if stored.token.account_id != account {
                let grant = grants::find(&mut conn, token_id, data_source)
                    .await?
                    .filter(|g| g.grantee_account_id == account)
                    .ok_or_else(|| {
                        ApiError::PermissionDenied(format!(
                            "data source {data_source} of account {account} holds no grant on token {token_id}"
                        ))
                    })?;
                check_bound(
                    &grant.request_fingerprint,
                    &request.request_fingerprint,
                    data_source,
                )?;
            }
        }

        let access = self
            .access
            .access_token(token_id, request.rejected_generation)
            .await?;
        Ok(GetAccessTokenResponse {
            access_token: access.access_token.expose().to_owned(),
            token_type: access.token_type,
            expire_time: access.expire_time.map(convert::timestamp),
            refreshed: access.refreshed,
            generation: access.generation,
        })
    }

    pub(super) async fn get_token_limits(
        &self,
        request: Request<GetTokenLimitsRequest>,
    ) -> ApiResult<GetTokenLimitsResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let token_id = parse_id("token_id", &request.token_id)?;
        let mut violations = Violations::new();
        validate::single_line(
            &mut violations,
            "rate_limit_key",
            &request.rate_limit_key,
            MAX_ID_CHARS,
        );
        violations.into_result()?;
        let mut conn = self.conn().await?;
        let stored = tokens::get(&mut conn, token_id)
            .await
            .map_err(|e| ApiError::from(not_found_as(e, "token", token_id)))?;
        let provider = providers::get(&mut conn, stored.token.provider_id).await?;
        let limits = provider.limits();
        Ok(GetTokenLimitsResponse {
            provider_id: provider.id.to_string(),
            token_limit: Some(convert::limit(&limits.token)),
            rate_limit_key_limit: (!request.rate_limit_key.is_empty())
                .then(|| convert::limit(&limits.rate_limit_key)),
        })
    }
}

/// I14, in depth: a grant or a credential copy serves the request it was made for. Whatever
/// path changed the data source since, its secret is not handed out for another request.
pub(super) fn check_bound(bound: &str, current: &str, data_source: Uuid) -> ApiResult<()> {
    if bound.is_empty() || bound == current {
        return Ok(());
    }
    Err(ApiError::precondition(
        "QUERY_CHANGED_SINCE_IMPORT",
        format!("data_sources/{data_source}"),
        "the data source no longer fetches what its master's token or credential was granted \
         for (I14); it needs a token or credential of its own account",
    ))
}
