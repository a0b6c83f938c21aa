//! BeginAuthorization and CompleteAuthorization.

use tonic::Request;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::request::{account_of, caller, optional_id};
use trellis_platform::validate;
use trellis_proto::tokens::v1::*;

use super::validate::{MAX_NAME_CHARS, MAX_REDIRECT_PARAMETER_CHARS, MAX_URL_CHARS};
use super::{TokensApi, convert, viewer};
use crate::app::authorization::{BeginInput, CompleteInput, Completed};
use trellis_platform::replay::{self, RequestKey};

impl TokensApi {
    pub(super) async fn begin_authorization(
        &self,
        request: Request<BeginAuthorizationRequest>,
    ) -> ApiResult<BeginAuthorizationResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "BeginAuthorization", &request.request_id)?;
        let input = BeginInput {
            account_id: account_of(&caller, "account_id", &request.account_id)?,
            provider_id: optional_id("provider_id", &request.provider_id)?,
            redirect_uri: request.redirect_uri.clone(),
            display_name: request.display_name.trim().to_owned(),
            token_id: optional_id("token_id", &request.token_id)?,
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
        self.app.redirect_uri(&input.redirect_uri)?;
        replay::write(&self.app.pool, &key, async |conn| {
            let begun = self.app.begin_authorization(conn, input).await?;
            Ok(BeginAuthorizationResponse {
                authorization_url: begun.authorization_url,
                state: begun.state.expose().to_owned(),
                expire_time: Some(convert::timestamp(begun.expire_time)),
            })
        })
        .await
    }

    pub(super) async fn complete_authorization(
        &self,
        request: Request<CompleteAuthorizationRequest>,
    ) -> ApiResult<CompleteAuthorizationResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CompleteAuthorization", &request.request_id)?;
        let mut violations = Violations::new();
        for (field, value) in [
            ("state", &request.state),
            ("code", &request.code),
            ("error", &request.error),
        ] {
            validate::single_line(&mut violations, field, value, MAX_REDIRECT_PARAMETER_CHARS);
        }
        violations.into_result()?;
        let input = CompleteInput {
            caller_account: viewer(&caller)?,
            state: &request.state,
            code: &request.code,
            error: &request.error,
        };
        self.app
            .complete_authorization(&key, input, completed)
            .await
    }
}

fn completed(completed: Completed) -> CompleteAuthorizationResponse {
    CompleteAuthorizationResponse {
        token: Some(convert::token(&completed.token)),
        warnings: completed
            .warnings
            .into_iter()
            .map(convert::warning)
            .collect(),
        invalidated_token_ids: completed
            .invalidated_token_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        invalidated_token_uses: convert::token_uses(completed.invalidated_token_uses),
    }
}
