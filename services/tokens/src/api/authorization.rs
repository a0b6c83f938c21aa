//! BeginAuthorization and CompleteAuthorization.

use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::{idempotency, validate};
use trellis_proto::tokens::v1::*;

use super::validate::{MAX_NAME_CHARS, MAX_REDIRECT_PARAMETER_CHARS, MAX_URL_CHARS};
use super::{
    TokensApi, account_of, caller, check_request_id, idempotency_scope, parse_optional_id, replayed,
};
use crate::convert;
use crate::domain::authorization::{BeginInput, CompleteInput};
use crate::store::TxError;

impl TokensApi {
    pub(super) async fn begin_authorization(
        &self,
        request: Request<BeginAuthorizationRequest>,
    ) -> ApiResult<BeginAuthorizationResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let account_id = account_of(&caller, "account_id", &request.account_id)?;
        let input = BeginInput {
            account_id,
            provider_id: parse_optional_id("provider_id", &request.provider_id)?,
            redirect_uri: request.redirect_uri.clone(),
            display_name: request.display_name.trim().to_owned(),
            token_id: parse_optional_id("token_id", &request.token_id)?,
        };
        let mut violations = Violations::new();
        validate::single_line(
            &mut violations,
            "display_name",
            &input.display_name,
            MAX_NAME_CHARS,
        );
        validate::single_line(
            &mut violations,
            "redirect_uri",
            &input.redirect_uri,
            MAX_URL_CHARS,
        );
        violations.into_result()?;
        // Checked before the transaction so that a bad URI is a plain INVALID_ARGUMENT.
        self.authorizations.redirect_uri(&input.redirect_uri)?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "BeginAuthorization";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let begun = self.authorizations.begin(conn, input).await?;
                let response = BeginAuthorizationResponse {
                    authorization_url: begun.authorization_url,
                    state: begun.state.expose().to_owned(),
                    expire_time: Some(convert::timestamp(begun.expire_time)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn complete_authorization(
        &self,
        request: Request<CompleteAuthorizationRequest>,
    ) -> ApiResult<CompleteAuthorizationResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let mut violations = Violations::new();
        for (field, value) in [
            ("state", &request.state),
            ("code", &request.code),
            ("error", &request.error),
        ] {
            validate::single_line(&mut violations, field, value, MAX_REDIRECT_PARAMETER_CHARS);
        }
        violations.into_result()?;
        let caller_account = if caller.is_service() {
            None
        } else {
            Some(caller.account()?)
        };
        let scope = idempotency_scope(&caller);
        self.authorizations
            .complete(CompleteInput {
                caller_account,
                scope: &scope,
                request_id: &request.request_id,
                state: &request.state,
                code: &request.code,
                error: &request.error,
            })
            .await
    }
}
