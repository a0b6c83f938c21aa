//! Saved credentials (I5): CreateCredential, GetCredential, ListCredentials,
//! UpdateCredential, DeleteCredential, and for the import and refresh services
//! CopyCredential and GetCredentialSecret.

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::validate::{check_name, mask_paths};
use super::{
    TokensApi, account_of, caller, check_etag, check_request_id, idempotency_scope, parse_id,
    replayed,
};
use crate::convert;
use crate::domain::authorization::not_found_as;
use crate::domain::{columns, open, seal};
use crate::secret::Secret;
use crate::store::TxError;
use crate::store::credentials::{self as store, API_KEY, BASIC, CredentialRow};

const UPDATABLE: [&str; 4] = [
    "display_name",
    "username",
    "api_key_placement",
    "api_key_name",
];

/// The secret a credential of `kind` needs from `secret`.
fn secret_of(kind: &str, secret: Option<&CredentialSecret>) -> Option<Secret> {
    let secret = secret?;
    let value = if kind == BASIC {
        &secret.password
    } else {
        &secret.api_key
    };
    (!value.is_empty()).then(|| Secret::new(value.clone()))
}

/// Checks the non-secret fields of a credential of its kind.
fn check_fields(row: &CredentialRow, prefix: &str) -> ApiResult<()> {
    let field = |name: &str| format!("{prefix}{name}");
    let mut v = Violations::new();
    check_name(&mut v, &field("display_name"), &row.display_name);
    if row.kind == BASIC {
        v.check(
            !row.username.is_empty(),
            &field("username"),
            "required for BASIC",
        );
        v.check(
            !row.username.contains(':') && !row.username.chars().any(char::is_control),
            &field("username"),
            "must not contain ':' or control characters",
        );
        v.check(
            row.api_key_placement.is_empty() && row.api_key_name.is_empty(),
            &field("api_key_placement"),
            "BASIC credentials have no API key placement or name",
        );
    } else {
        v.check(
            !row.api_key_placement.is_empty(),
            &field("api_key_placement"),
            "required for API_KEY: HEADER or QUERY_PARAMETER",
        );
        let header_name = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        let ok = !row.api_key_name.is_empty()
            && if row.api_key_placement == store::HEADER {
                row.api_key_name.chars().all(header_name)
            } else {
                !row.api_key_name
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace())
            };
        v.check(
            ok,
            &field("api_key_name"),
            "required for API_KEY: a header name or query parameter name",
        );
        v.check(
            row.username.is_empty(),
            &field("username"),
            "API_KEY credentials have no username",
        );
    }
    v.into_result()
}

impl TokensApi {
    fn seal_credential(&self, id: Uuid, secret: &Secret) -> Vec<u8> {
        seal(
            &self.keyring,
            secret,
            columns::CREDENTIAL_SECRET,
            &id.to_string(),
        )
    }

    async fn credential_in(&self, id: Uuid, account: Uuid) -> ApiResult<CredentialRow> {
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        if row.account_id != account {
            return Err(ApiError::not_found("credential", id));
        }
        Ok(row)
    }

    pub(super) async fn create_credential(
        &self,
        request: Request<CreateCredentialRequest>,
    ) -> ApiResult<CreateCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let given = request
            .credential
            .ok_or_else(|| ApiError::invalid("credential", "required"))?;
        let account = account_of(&caller, "credential.account_id", &given.account_id)?;
        let kind = match CredentialKind::try_from(given.kind) {
            Ok(CredentialKind::Basic) => BASIC,
            Ok(CredentialKind::ApiKey) => API_KEY,
            _ => {
                return Err(ApiError::invalid(
                    "credential.kind",
                    "required: BASIC or API_KEY",
                ));
            }
        };
        let placement = ApiKeyPlacement::try_from(given.api_key_placement)
            .map_err(|_| ApiError::invalid("credential.api_key_placement", "unknown placement"))?;
        let secret = secret_of(kind, request.secret.as_ref()).ok_or_else(|| {
            ApiError::invalid(
                if kind == BASIC {
                    "secret.password"
                } else {
                    "secret.api_key"
                },
                "required",
            )
        })?;
        let id = Uuid::now_v7();
        let now = Utc::now();
        let row = CredentialRow {
            id,
            account_id: account,
            display_name: given.display_name.trim().to_owned(),
            kind: kind.to_owned(),
            username: given.username.clone(),
            api_key_placement: convert::placement_name(placement).to_owned(),
            api_key_name: given.api_key_name.clone(),
            secret: self.seal_credential(id, &secret),
            scoped_data_source_id: None,
            source_credential_id: None,
            version: 1,
            create_time: now,
            update_time: now,
            request_fingerprint: String::new(),
        };
        check_fields(&row, "credential.")?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "CreateCredential";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let stored = store::insert(conn, &row).await?;
                let response = CreateCredentialResponse {
                    credential: Some(convert::credential(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> ApiResult<GetCredentialResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let row = self.credential_in(id, account).await?;
        Ok(GetCredentialResponse {
            credential: Some(convert::credential(&row)),
        })
    }

    pub(super) async fn list_credentials(
        &self,
        request: Request<ListCredentialsRequest>,
    ) -> ApiResult<ListCredentialsResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let account = account_of(&caller, "account_id", &request.account_id)?;
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
        let mut rows = store::list(&mut conn, account, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |r| r.id.to_string());
        Ok(ListCredentialsResponse {
            credentials: rows.iter().map(convert::credential).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_credential(
        &self,
        request: Request<UpdateCredentialRequest>,
    ) -> ApiResult<UpdateCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let given = request
            .credential
            .ok_or_else(|| ApiError::invalid("credential", "required"))?;
        let id = parse_id("credential.id", &given.id)?;
        let account = account_of(&caller, "credential.account_id", &given.account_id)?;
        let placement = ApiKeyPlacement::try_from(given.api_key_placement)
            .map_err(|_| ApiError::invalid("credential.api_key_placement", "unknown placement"))?;
        let paths = mask_paths(
            request.update_mask.as_ref(),
            &UPDATABLE,
            |path| match path {
                "display_name" => !given.display_name.is_empty(),
                "username" => !given.username.is_empty(),
                "api_key_placement" => placement != ApiKeyPlacement::Unspecified,
                "api_key_name" => !given.api_key_name.is_empty(),
                _ => false,
            },
        )?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "UpdateCredential";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let mut row = store::get_for_update(conn, id)
                    .await
                    .map_err(|e| missing(e, id))?;
                if row.account_id != account {
                    return Err(ApiError::not_found("credential", id).into());
                }
                check_etag(&given.etag, &row.etag())?;
                // A copy is its master's login, made for one imported query (I5, I14): its
                // holder may rename it, not change how or where the secret is sent.
                let changes_the_login =
                    paths.iter().any(|p| p != "display_name") || request.secret.is_some();
                if row.scoped_data_source_id.is_some() && changes_the_login {
                    return Err(ApiError::precondition(
                        "CREDENTIAL_COPY",
                        format!("credentials/{id}"),
                        "a copy made by an import changes only with its master (re-import or \
                         update the instance); only its display_name can be edited",
                    )
                    .into());
                }
                for path in &paths {
                    match path.as_str() {
                        "display_name" => row.display_name = given.display_name.trim().to_owned(),
                        "username" => row.username = given.username.clone(),
                        "api_key_placement" => {
                            row.api_key_placement = convert::placement_name(placement).to_owned()
                        }
                        "api_key_name" => row.api_key_name = given.api_key_name.clone(),
                        _ => {}
                    }
                }
                check_fields(&row, "credential.")?;
                if let Some(secret) = secret_of(&row.kind, request.secret.as_ref()) {
                    row.secret = self.seal_credential(id, &secret);
                }
                let stored = store::update(conn, &row).await?;
                let response = UpdateCredentialResponse {
                    credential: Some(convert::credential(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> ApiResult<DeleteCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "DeleteCredential";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let row = store::get_for_update(conn, id)
                    .await
                    .map_err(|e| missing(e, id))?;
                if row.account_id != account {
                    return Err(ApiError::not_found("credential", id).into());
                }
                check_etag(&request.etag, &row.etag())?;
                store::delete(conn, id).await?;
                let response = DeleteCredentialResponse {};
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

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

fn missing(error: StoreError, id: Uuid) -> ApiError {
    not_found_as(error, "credential", id).into()
}
