//! CreateProvider, GetProvider, ListProviders, UpdateProvider, DeleteProvider.

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, StoreError, Violations};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::validate::{self, check_provider, mask_paths};
use super::{
    TokensApi, caller, check_etag, check_request_id, idempotency_scope, parse_id, replayed,
};
use crate::convert;
use crate::domain::{columns, seal};
use crate::secret::Secret;
use crate::store::providers::{self, Limits, ProviderRow};
use crate::store::{TxError, providers as store};

const UPDATABLE: [&str; 13] = [
    "name",
    "authorization_url",
    "token_url",
    "revocation_url",
    "userinfo_url",
    "client_id",
    "client_secret",
    "scopes",
    "authorization_parameters",
    "max_tokens_per_user",
    "warn_tokens_per_user",
    "token_limit",
    "rate_limit_key_limit",
];

impl TokensApi {
    /// The stored form of a checked provider; the client secret is sealed to `id`.
    fn provider_row(
        &self,
        id: Uuid,
        provider: &Provider,
        client_secret: Option<Vec<u8>>,
    ) -> ProviderRow {
        let limits = Limits {
            token: validate::limit(provider.token_limit.as_ref()),
            rate_limit_key: validate::limit(provider.rate_limit_key_limit.as_ref()),
        };
        let now = Utc::now();
        ProviderRow {
            id,
            name: provider.name.trim().to_owned(),
            authorization_url: provider.authorization_url.clone(),
            token_url: provider.token_url.clone(),
            revocation_url: provider.revocation_url.clone(),
            userinfo_url: provider.userinfo_url.clone(),
            client_id: provider.client_id.trim().to_owned(),
            client_secret,
            scopes: provider.scopes.clone(),
            authorization_parameters: serde_json::to_value(
                provider
                    .authorization_parameters
                    .iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .unwrap_or_default(),
            max_tokens_per_user: provider.max_tokens_per_user,
            warn_tokens_per_user: provider.warn_tokens_per_user,
            limits: serde_json::to_value(limits).unwrap_or_default(),
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    fn seal_client_secret(&self, id: Uuid, secret: &str) -> Option<Vec<u8>> {
        (!secret.is_empty()).then(|| {
            seal(
                &self.keyring,
                &Secret::new(secret),
                columns::CLIENT_SECRET,
                &id.to_string(),
            )
        })
    }

    pub(super) async fn create_provider(
        &self,
        request: Request<CreateProviderRequest>,
    ) -> ApiResult<CreateProviderResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let provider = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "required"))?;
        check_provider(&provider, "provider.")?;
        let id = Uuid::now_v7();
        let row = self.provider_row(
            id,
            &provider,
            self.seal_client_secret(id, &provider.client_secret),
        );
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "CreateProvider";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let stored = store::insert(conn, &row).await?;
                let response = CreateProviderResponse {
                    provider: Some(convert::provider(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn get_provider(
        &self,
        request: Request<GetProviderRequest>,
    ) -> ApiResult<GetProviderResponse> {
        caller(&request)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let mut conn = self.conn().await?;
        let row = store::get(&mut conn, id)
            .await
            .map_err(|e| missing(e, id))?;
        Ok(GetProviderResponse {
            provider: Some(convert::provider(&row)),
        })
    }

    pub(super) async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> ApiResult<ListProvidersResponse> {
        caller(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let after = match &page.after {
            None => None,
            Some(key) => {
                let (name, id) = key
                    .rsplit_once('\u{1f}')
                    .filter(|(name, _)| {
                        validate::line_problem(name, validate::MAX_NAME_CHARS).is_none()
                    })
                    .and_then(|(name, id)| Some((name.to_owned(), Uuid::parse_str(id).ok()?)))
                    .ok_or_else(|| {
                        ApiError::invalid("page_token", "not a token this service issued")
                    })?;
                Some((name, id))
            }
        };
        let mut conn = self.conn().await?;
        let mut rows = store::list(&mut conn, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |r| format!("{}\u{1f}{}", r.name, r.id));
        Ok(ListProvidersResponse {
            providers: rows.iter().map(convert::provider).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_provider(
        &self,
        request: Request<UpdateProviderRequest>,
    ) -> ApiResult<UpdateProviderResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let given = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "required"))?;
        let id = parse_id("provider.id", &given.id)?;
        let paths = mask_paths(request.update_mask.as_ref(), &UPDATABLE, |path| {
            is_set(&given, path)
        })?;
        // The rest is checked on the merged provider; the secret is not part of it.
        let mut violations = Violations::new();
        validate::check_secret(
            &mut violations,
            "provider.client_secret",
            &given.client_secret,
        );
        violations.into_result()?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "UpdateProvider";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let current = providers::get_for_update(conn, id)
                    .await
                    .map_err(|e| missing(e, id))?;
                check_etag(&given.etag, &current.version.to_string())?;
                let mut merged = convert::provider(&current);
                for path in &paths {
                    apply(&mut merged, &given, path);
                }
                check_provider(&merged, "provider.")?;
                let client_secret = if paths.iter().any(|p| p == "client_secret") {
                    self.seal_client_secret(id, &given.client_secret)
                } else {
                    current.client_secret.clone()
                };
                let row = self.provider_row(id, &merged, client_secret);
                let stored = store::update(conn, &row).await?;
                let response = UpdateProviderResponse {
                    provider: Some(convert::provider(&stored)),
                };
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }

    pub(super) async fn delete_provider(
        &self,
        request: Request<DeleteProviderRequest>,
    ) -> ApiResult<DeleteProviderResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let id = parse_id("id", &request.id)?;
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                const METHOD: &str = "DeleteProvider";
                if let Some(response) = replayed(conn, &scope, METHOD, &request.request_id).await? {
                    return Ok(response);
                }
                let current = providers::get_for_update(conn, id)
                    .await
                    .map_err(|e| missing(e, id))?;
                check_etag(&request.etag, &current.version.to_string())?;
                let tokens = store::count_tokens(conn, id).await?;
                if tokens > 0 {
                    return Err(ApiError::precondition(
                        "PROVIDER_IN_USE",
                        format!("providers/{id}"),
                        format!("{tokens} tokens of this provider exist; delete them first"),
                    )
                    .into());
                }
                store::delete(conn, id).await?;
                let response = DeleteProviderResponse {};
                idempotency::remember(conn, &scope, METHOD, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }
}

fn missing(error: StoreError, id: Uuid) -> TxError {
    crate::domain::authorization::not_found_as(error, "provider", id)
}

fn is_set(p: &Provider, path: &str) -> bool {
    match path {
        "name" => !p.name.is_empty(),
        "authorization_url" => !p.authorization_url.is_empty(),
        "token_url" => !p.token_url.is_empty(),
        "revocation_url" => !p.revocation_url.is_empty(),
        "userinfo_url" => !p.userinfo_url.is_empty(),
        "client_id" => !p.client_id.is_empty(),
        "client_secret" => !p.client_secret.is_empty(),
        "scopes" => !p.scopes.is_empty(),
        "authorization_parameters" => !p.authorization_parameters.is_empty(),
        "max_tokens_per_user" => p.max_tokens_per_user != 0,
        "warn_tokens_per_user" => p.warn_tokens_per_user != 0,
        "token_limit" => p.token_limit.is_some(),
        "rate_limit_key_limit" => p.rate_limit_key_limit.is_some(),
        _ => false,
    }
}

fn apply(target: &mut Provider, given: &Provider, path: &str) {
    match path {
        "name" => target.name = given.name.clone(),
        "authorization_url" => target.authorization_url = given.authorization_url.clone(),
        "token_url" => target.token_url = given.token_url.clone(),
        "revocation_url" => target.revocation_url = given.revocation_url.clone(),
        "userinfo_url" => target.userinfo_url = given.userinfo_url.clone(),
        "client_id" => target.client_id = given.client_id.clone(),
        "scopes" => target.scopes = given.scopes.clone(),
        "authorization_parameters" => {
            target.authorization_parameters = given.authorization_parameters.clone()
        }
        "max_tokens_per_user" => target.max_tokens_per_user = given.max_tokens_per_user,
        "warn_tokens_per_user" => target.warn_tokens_per_user = given.warn_tokens_per_user,
        "token_limit" => target.token_limit = given.token_limit,
        "rate_limit_key_limit" => target.rate_limit_key_limit = given.rate_limit_key_limit,
        _ => {}
    }
}
