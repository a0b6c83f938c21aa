//! CreateProvider, GetProvider, ListProviders, UpdateProvider, DeleteProvider.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{caller, id, required};
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::TokensApi;
use super::convert;
use super::validate::{self, check_provider, mask_paths};
use crate::app::providers::{self as app, PageKey};
use trellis_platform::replay::{self, RequestKey};

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
    pub(super) async fn create_provider(
        &self,
        request: Request<CreateProviderRequest>,
    ) -> ApiResult<CreateProviderResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateProvider", &request.request_id)?;
        let provider = required("provider", request.provider)?;
        check_provider(&provider, "provider.")?;
        let id = Uuid::now_v7();
        let secret = self.app.seal_client_secret(id, &provider.client_secret);
        let row = convert::provider_row(id, &provider, secret);
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::create(conn, &row).await?;
            Ok(CreateProviderResponse {
                provider: Some(convert::provider(&stored)),
            })
        })
        .await
    }

    pub(super) async fn get_provider(
        &self,
        request: Request<GetProviderRequest>,
    ) -> ApiResult<GetProviderResponse> {
        caller(&request)?;
        let row = self
            .app
            .get_provider(id("id", &request.get_ref().id)?)
            .await?;
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
        let after = page.after_key::<PageKey>()?;
        // A name the service never stores is no token it issued.
        if let Some((name, _)) = &after
            && validate::line_problem(name, validate::MAX_NAME_CHARS).is_some()
        {
            return Err(ApiError::invalid(
                "page_token",
                "not a token this service issued",
            ));
        }
        let mut rows = self.app.list_providers(after, page.fetch_limit()).await?;
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
        let key = RequestKey::new(&caller, "UpdateProvider", &request.request_id)?;
        let given = required("provider", request.provider)?;
        let id = id("provider.id", &given.id)?;
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
        let merge = |current: &crate::store::providers::ProviderRow| {
            let mut merged = convert::provider(current);
            for path in &paths {
                apply(&mut merged, &given, path);
            }
            check_provider(&merged, "provider.")?;
            let client_secret = if paths.iter().any(|p| p == "client_secret") {
                self.app.seal_client_secret(id, &given.client_secret)
            } else {
                current.client_secret.clone()
            };
            Ok(convert::provider_row(id, &merged, client_secret))
        };
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::update(conn, id, &given.etag, merge).await?;
            Ok(UpdateProviderResponse {
                provider: Some(convert::provider(&stored)),
            })
        })
        .await
    }

    pub(super) async fn delete_provider(
        &self,
        request: Request<DeleteProviderRequest>,
    ) -> ApiResult<DeleteProviderResponse> {
        let caller = caller(&request)?;
        caller.require_service()?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteProvider", &request.request_id)?;
        let id = id("id", &request.id)?;
        replay::write(&self.app.pool, &key, async |conn| {
            app::delete(conn, id, &request.etag).await?;
            Ok(DeleteProviderResponse {})
        })
        .await
    }
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
