//! Saved credentials (I5): CreateCredential, GetCredential, ListCredentials,
//! UpdateCredential, DeleteCredential; the import and refresh services' calls are in
//! `credential_copies`. The flows of the kinds beyond BASIC and API_KEY and the limit go
//! between their messages and their stored form in `wire`.

pub(super) mod wire;

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{account_of, caller, id, required};
use trellis_proto::tokens::v1::*;

use super::validate::{check_secret, mask_paths};
use super::{TokensApi, convert};
use crate::app::credentials::{self as app, CredentialChange, NewCredential};
use crate::domain::credentials::{Login, LoginKind, SentSecrets, secret_field};
use trellis_platform::replay::{self, RequestKey};

const UPDATABLE: [&str; 8] = [
    "display_name",
    "username",
    "api_key_placement",
    "api_key_name",
    "login",
    "client_credentials",
    "signing",
    "limit",
];

/// Checks every secret field of a request (a credential uses one of them).
fn sent_secrets(secret: Option<CredentialSecret>) -> ApiResult<Option<SentSecrets>> {
    let mut v = Violations::new();
    if let Some(secret) = &secret {
        check_secret(&mut v, "secret.password", &secret.password);
        check_secret(&mut v, "secret.api_key", &secret.api_key);
        check_secret(&mut v, "secret.client_secret", &secret.client_secret);
        check_secret(&mut v, "secret.signing_key", &secret.signing_key);
    }
    v.into_result()?;
    Ok(secret.map(|s| SentSecrets {
        password: s.password,
        api_key: s.api_key,
        client_secret: s.client_secret,
        signing_key: s.signing_key,
    }))
}

fn placement_of(given: &Credential) -> ApiResult<ApiKeyPlacement> {
    ApiKeyPlacement::try_from(given.api_key_placement)
        .map_err(|_| ApiError::invalid("credential.api_key_placement", "unknown placement"))
}

impl TokensApi {
    pub(super) async fn create_credential(
        &self,
        request: Request<CreateCredentialRequest>,
    ) -> ApiResult<CreateCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateCredential", &request.request_id)?;
        let given = required("credential", request.credential)?;
        let account_id = account_of(&caller, "credential.account_id", &given.account_id)?;
        let kind = match CredentialKind::try_from(given.kind) {
            Ok(CredentialKind::Basic) => LoginKind::Basic,
            Ok(CredentialKind::ApiKey) => LoginKind::ApiKey,
            Ok(CredentialKind::Login) => LoginKind::Login,
            Ok(CredentialKind::ClientCredentials) => LoginKind::ClientCredentials,
            Ok(CredentialKind::Signed) => LoginKind::Signed,
            _ => {
                return Err(ApiError::invalid(
                    "credential.kind",
                    "required: BASIC, API_KEY, LOGIN, CLIENT_CREDENTIALS or SIGNED",
                ));
            }
        };
        let placement = placement_of(&given)?;
        let secret = sent_secrets(request.secret)?
            .and_then(|sent| sent.for_kind(kind))
            .ok_or_else(|| {
                ApiError::invalid(format!("secret.{}", secret_field(kind)), "required")
            })?;
        let mut v = Violations::new();
        let flows = wire::flows_of(&mut v, &given);
        let limit = wire::limit_of(&mut v, given.limit.as_ref());
        v.into_result()?;
        let display_name = given.display_name.trim();
        let row = self.app.credential_row(NewCredential {
            account_id,
            login: Login {
                display_name,
                kind,
                username: &given.username,
                api_key_placement: convert::placement_name(placement),
                api_key_name: &given.api_key_name,
                flows: &flows,
            },
            limit,
            secret,
        })?;
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::create(conn, &row).await?;
            Ok(CreateCredentialResponse {
                credential: Some(convert::credential(&stored)),
            })
        })
        .await
    }

    pub(super) async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> ApiResult<GetCredentialResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        let row = self.app.credential_in(id, account).await?;
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
        let mut rows = self
            .app
            .list_credentials(account, page.after_id()?, page.fetch_limit())
            .await?;
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
        let key = RequestKey::new(&caller, "UpdateCredential", &request.request_id)?;
        let given = required("credential", request.credential)?;
        let id = id("credential.id", &given.id)?;
        let account = account_of(&caller, "credential.account_id", &given.account_id)?;
        let placement = placement_of(&given)?;
        let secrets = sent_secrets(request.secret)?;
        let paths = mask_paths(
            request.update_mask.as_ref(),
            &UPDATABLE,
            |path| match path {
                "display_name" => !given.display_name.is_empty(),
                "username" => !given.username.is_empty(),
                "api_key_placement" => placement != ApiKeyPlacement::Unspecified,
                "api_key_name" => !given.api_key_name.is_empty(),
                "login" => given.login.is_some(),
                "client_credentials" => given.client_credentials.is_some(),
                "signing" => given.signing.is_some(),
                "limit" => given.limit.is_some(),
                _ => false,
            },
        )?;
        let masked = |path: &str| paths.iter().any(|p| p == path);
        // A masked flow or limit replaces the stored one whole; masked and unset clears it.
        let mut v = Violations::new();
        let login =
            masked("login").then(|| given.login.as_ref().map(|l| wire::login_of(&mut v, l)));
        let signing =
            masked("signing").then(|| given.signing.as_ref().map(|s| wire::signing_of(&mut v, s)));
        let limit = masked("limit").then(|| wire::limit_of(&mut v, given.limit.as_ref()));
        v.into_result()?;
        let change = CredentialChange {
            display_name: masked("display_name").then(|| given.display_name.trim().to_owned()),
            username: masked("username").then(|| given.username.clone()),
            api_key_placement: masked("api_key_placement")
                .then(|| convert::placement_name(placement)),
            api_key_name: masked("api_key_name").then(|| given.api_key_name.clone()),
            login,
            client_credentials: masked("client_credentials").then(|| {
                given
                    .client_credentials
                    .as_ref()
                    .map(wire::client_credentials_of)
            }),
            signing,
            limit,
            secrets,
        };
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = self
                .app
                .update_credential(conn, (id, account), &given.etag, &change)
                .await?;
            Ok(UpdateCredentialResponse {
                credential: Some(convert::credential(&stored)),
            })
        })
        .await
    }

    pub(super) async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> ApiResult<DeleteCredentialResponse> {
        let caller = caller(&request)?;
        caller.require_writer()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteCredential", &request.request_id)?;
        let id = id("id", &request.id)?;
        let account = account_of(&caller, "account_id", &request.account_id)?;
        replay::write(&self.app.pool, &key, async |conn| {
            app::delete(conn, id, account, &request.etag).await?;
            Ok(DeleteCredentialResponse {})
        })
        .await
    }
}
