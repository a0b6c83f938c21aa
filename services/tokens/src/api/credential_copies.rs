//! The import and refresh services' calls on saved credentials (I5): CopyCredential makes
//! an import's copy scoped to one data source, GetCredentialSecret hands a secret to the
//! data source it serves.

use tonic::Request;
use trellis_platform::error::{ApiResult, Violations};
use trellis_platform::request::{caller, id};
use trellis_proto::tokens::v1::*;

use super::credentials::wire;
use super::grants::check_fingerprint;
use super::{TokensApi, convert};
use crate::app::copies::CopyRequest;
use crate::app::credentials::Use;
use crate::domain::credentials::LoginKind;
use trellis_platform::replay::{self, RequestKey};

impl TokensApi {
    pub(super) async fn copy_credential(
        &self,
        request: Request<CopyCredentialRequest>,
    ) -> ApiResult<CopyCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CopyCredential", &request.request_id)?;
        let asked = CopyRequest {
            source_id: id("credential_id", &request.credential_id)?,
            destination: id("destination_account_id", &request.destination_account_id)?,
            data_source: id("data_source_id", &request.data_source_id)?,
            source_account: id("source_account_id", &request.source_account_id)?,
            request_fingerprint: request.request_fingerprint.clone(),
        };
        let mut violations = Violations::new();
        check_fingerprint(
            &mut violations,
            "request_fingerprint",
            &asked.request_fingerprint,
        );
        violations.into_result()?;
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = self.app.copy_credential(conn, &asked).await?;
            Ok(CopyCredentialResponse {
                credential: Some(convert::credential(&stored)),
            })
        })
        .await
    }

    pub(super) async fn get_credential_secret(
        &self,
        request: Request<GetCredentialSecretRequest>,
    ) -> ApiResult<GetCredentialSecretResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let asked = Use {
            credential_id: id("credential_id", &request.credential_id)?,
            data_source_id: id("data_source_id", &request.data_source_id)?,
            account_id: id("account_id", &request.account_id)?,
            request_fingerprint: &request.request_fingerprint,
        };
        let (row, secret) = self.app.credential_secret(asked).await?;
        let shown = wire::shown(&row.flows(), row.limit().as_ref());
        // The one secret of its kind, in the field of its kind.
        let mut answer = GetCredentialSecretResponse {
            kind: convert::credential_kind(row.kind) as i32,
            api_key_placement: convert::placement(row.api_key_placement) as i32,
            login: shown.login,
            client_credentials: shown.client_credentials,
            signing: shown.signing,
            limit: shown.limit,
            limit_key: row.limit_key().to_string(),
            username: row.username,
            api_key_name: row.api_key_name,
            ..Default::default()
        };
        let field = match row.kind {
            LoginKind::Basic | LoginKind::Login => &mut answer.password,
            LoginKind::ApiKey => &mut answer.api_key,
            LoginKind::ClientCredentials => &mut answer.client_secret,
            LoginKind::Signed => &mut answer.signing_key,
        };
        secret.expose().clone_into(field);
        Ok(answer)
    }
}
