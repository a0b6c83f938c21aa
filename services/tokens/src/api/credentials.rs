//! Saved credentials (I5): CreateCredential, GetCredential, ListCredentials,
//! UpdateCredential, DeleteCredential; the import and refresh services' calls are in
//! `credential_copies`.

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::{idempotency, validate};
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::validate::{MAX_ID_CHARS, check_name, check_secret, mask_paths};
use super::{
    TokensApi, account_of, caller, check_etag, check_request_id, idempotency_scope, parse_id,
    replayed,
};
use crate::convert;
use crate::domain::authorization::not_found_as;
use crate::domain::{columns, seal};
use crate::secret::Secret;
use crate::store::TxError;
use crate::store::credentials::{self as store, API_KEY, BASIC, CredentialRow};

const UPDATABLE: [&str; 4] = [
    "display_name",
    "username",
    "api_key_placement",
    "api_key_name",
];

/// Checks both secret fields of a request (a credential uses one of them).
fn check_secrets(secret: Option<&CredentialSecret>) -> ApiResult<()> {
    let mut v = Violations::new();
    if let Some(secret) = secret {
        check_secret(&mut v, "secret.password", &secret.password);
        check_secret(&mut v, "secret.api_key", &secret.api_key);
    }
    v.into_result()
}

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
    validate::single_line(&mut v, &field("username"), &row.username, MAX_ID_CHARS);
    validate::single_line(
        &mut v,
        &field("api_key_name"),
        &row.api_key_name,
        MAX_ID_CHARS,
    );
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
    pub(super) fn seal_credential(&self, id: Uuid, secret: &Secret) -> Vec<u8> {
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
        check_secrets(request.secret.as_ref())?;
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
        check_secrets(request.secret.as_ref())?;
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
}

pub(super) fn missing(error: StoreError, id: Uuid) -> ApiError {
    not_found_as(error, "credential", id).into()
}
