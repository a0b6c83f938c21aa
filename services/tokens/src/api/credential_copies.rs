//! The import and refresh services' calls on saved credentials (I5): CopyCredential makes
//! an import's copy scoped to one data source, GetCredentialSecret hands a secret to the
//! data source it serves.

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::idempotency;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::credentials::missing;
use super::{TokensApi, caller, check_request_id, idempotency_scope, parse_id, replayed};
use crate::convert;
use crate::domain::{columns, open};
use crate::store::TxError;
use crate::store::credentials::{self as store, BASIC, CredentialRow};

impl TokensApi {
    pub(super) async fn copy_credential(
        &self,
        request: Request<CopyCredentialRequest>,
    ) -> ApiResult<CopyCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let source_id = parse_id("credential_id", &request.credential_id)?;
        let destination = parse_id("destination_account_id", &request.destination_account_id)?;
        let data_source = parse_id("data_source_id", &request.data_source_id)?;
        let source_account = parse_id("source_account_id", &request.source_account_id)?;
        let mut violations = Violations::new();
        super::grants::check_fingerprint(
            &mut violations,
            "request_fingerprint",
            &request.request_fingerprint,
        );
        violations.into_result()?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "CopyCredential";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let source = store::get(conn, source_id)
                    .await
                    .map_err(|e| missing(e, source_id))?;
                // I15: only a credential of the import's source account is copied, and never
                // a copy (a copy serves its one data source alone, I5).
                if source.account_id != source_account || source.scoped_data_source_id.is_some() {
                    return Err(ApiError::not_found("credential", source_id).into());
                }
                // The copy is sealed to its own row: the source's envelope would not open there.
                let secret = open(&self.keyring, &source.secret, columns::CREDENTIAL_SECRET, &source_id.to_string())?;
                let stored = match store::find_copy(conn, source_id, data_source).await? {
                    Some(mut copy) => {
                        if copy.account_id != destination {
                            return Err(ApiError::invalid(
                                "destination_account_id",
                                "the data source already has a copy of this credential in another account",
                            )
                            .into());
                        }
                        // Copying again (a re-import) brings the copy up to date.
                        copy.display_name = source.display_name.clone();
                        copy.username = source.username.clone();
                        copy.api_key_placement = source.api_key_placement.clone();
                        copy.api_key_name = source.api_key_name.clone();
                        copy.secret = self.seal_credential(copy.id, &secret);
                        copy.request_fingerprint = request.request_fingerprint.clone();
                        store::update(conn, &copy).await?
                    }
                    None => {
                        let id = Uuid::now_v7();
                        let now = Utc::now();
                        store::insert(
                            conn,
                            &CredentialRow {
                                id,
                                account_id: destination,
                                display_name: source.display_name.clone(),
                                kind: source.kind.clone(),
                                username: source.username.clone(),
                                api_key_placement: source.api_key_placement.clone(),
                                api_key_name: source.api_key_name.clone(),
                                secret: self.seal_credential(id, &secret),
                                // I5: usable by this imported data source alone.
                                scoped_data_source_id: Some(data_source),
                                source_credential_id: Some(source_id),
                                version: 1,
                                create_time: now,
                                update_time: now,
                                request_fingerprint: request.request_fingerprint.clone(),
                            },
                        )
                        .await?
                    }
                };
                let response = CopyCredentialResponse {
                    credential: Some(convert::credential(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn get_credential_secret(
        &self,
        request: Request<GetCredentialSecretRequest>,
    ) -> ApiResult<GetCredentialSecretResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let id = parse_id("credential_id", &request.credential_id)?;
        let data_source = parse_id("data_source_id", &request.data_source_id)?;
        let account = parse_id("account_id", &request.account_id)?;
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        if row.account_id != account {
            return Err(ApiError::PermissionDenied(format!(
                "credential {id} does not belong to account {account}"
            )));
        }
        // I5: a copy made by an import serves its one data source, no other.
        if let Some(scoped) = row.scoped_data_source_id
            && scoped != data_source
        {
            return Err(ApiError::PermissionDenied(format!(
                "credential {id} is scoped to another data source than {data_source}"
            )));
        }
        super::access::check_bound(
            &row.request_fingerprint,
            &request.request_fingerprint,
            data_source,
        )?;
        let secret = open(
            &self.keyring,
            &row.secret,
            columns::CREDENTIAL_SECRET,
            &id.to_string(),
        )?;
        let basic = row.kind == BASIC;
        Ok(GetCredentialSecretResponse {
            kind: convert::credential_kind(&row.kind) as i32,
            username: row.username.clone(),
            password: if basic {
                secret.expose().to_owned()
            } else {
                String::new()
            },
            api_key: if basic {
                String::new()
            } else {
                secret.expose().to_owned()
            },
            api_key_placement: convert::placement(&row.api_key_placement) as i32,
            api_key_name: row.api_key_name.clone(),
        })
    }
}
