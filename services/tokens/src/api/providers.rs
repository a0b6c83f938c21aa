//! CreateProvider, GetProvider, ListProviders, UpdateProvider, DeleteProvider.
//!
//! Operators register the providers every account sees; an account's admin registers its
//! family's own OAuth apps (`owner_account_id`), filled from a catalogue entry when it
//! names one (`catalogue_key`). Who sees and changes which is `crate::domain::providers`.

use tonic::Request;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::request::{caller, id, optional_id};
use trellis_proto::tokens::v1::*;
use uuid::Uuid;

use super::TokensApi;
use super::convert;
use super::validate::{self, check_provider, mask_paths};
use crate::app::providers::{self as app, PageKey};
use crate::domain::providers_catalogue::is_key;
use crate::store::providers::ProviderRow;
use trellis_platform::replay::{self, RequestKey};

const UPDATABLE: [&str; 14] = [
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
    "token_parameters",
];

impl TokensApi {
    pub(super) async fn create_provider(
        &self,
        request: Request<CreateProviderRequest>,
    ) -> ApiResult<CreateProviderResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateProvider", &request.request_id)?;
        // Who may register it comes first: a missing provider registers one every account
        // sees, which only an operator may.
        let requested_owner = optional_id(
            "provider.owner_account_id",
            request
                .provider
                .as_ref()
                .map_or("", |p| p.owner_account_id.as_str()),
        )?;
        let owner = self.app.owner_of_new(&caller, requested_owner).await?;
        let mut provider = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "required"))?;
        if !provider.catalogue_key.is_empty() {
            // Checked before it is looked up: a key is a word, never a database error.
            if !is_key(&provider.catalogue_key) {
                return Err(ApiError::invalid(
                    "provider.catalogue_key",
                    "a catalogue key is a lower-case word (letters, digits, `_`, `-`)",
                ));
            }
            let entry = self.app.catalogue_provider(&provider.catalogue_key).await?;
            fill_from_catalogue(&mut provider, &entry);
        }
        check_provider(&provider, "provider.")?;
        if provider.client_id.trim().is_empty() {
            return Err(ApiError::invalid(
                "provider.client_id",
                "required: the OAuth app's client id at the provider",
            ));
        }
        let id = Uuid::now_v7();
        let secret = self.app.seal_client_secret(id, &provider.client_secret);
        let row = convert::provider_row(id, &provider, secret, owner);
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
        let caller = caller(&request)?;
        let id = id("id", &request.get_ref().id)?;
        let viewer = self.app.viewer_family(&caller).await?;
        let row = self.app.get_provider(id, viewer).await?;
        Ok(GetProviderResponse {
            provider: Some(convert::provider(&row)),
        })
    }

    pub(super) async fn list_providers(
        &self,
        request: Request<ListProvidersRequest>,
    ) -> ApiResult<ListProvidersResponse> {
        let caller = caller(&request)?;
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
        let viewer = self.app.viewer_family(&caller).await?;
        let mut rows = self
            .app
            .list_providers(viewer, after, page.fetch_limit())
            .await?;
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
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateProvider", &request.request_id)?;
        let given = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "required"))?;
        let id = id("provider.id", &given.id)?;
        let manager = self.app.manager(&caller).await?;
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
        let merge = |current: &ProviderRow| {
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
            Ok(convert::provider_row(
                id,
                &merged,
                client_secret,
                current.owner_account_id,
            ))
        };
        replay::write(&self.app.pool, &key, async |conn| {
            let stored = app::update(conn, id, &manager, &given.etag, merge).await?;
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
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteProvider", &request.request_id)?;
        let id = id("id", &request.id)?;
        let manager = self.app.manager(&caller).await?;
        replay::write(&self.app.pool, &key, async |conn| {
            app::delete(conn, id, &manager, &request.etag).await?;
            Ok(DeleteProviderResponse {})
        })
        .await
    }
}

/// Fills what an app registered for a catalogue entry leaves empty from the entry: its
/// name, endpoints, scopes, parameters, caps and limits; never its client id or secret.
fn fill_from_catalogue(provider: &mut Provider, entry: &ProviderRow) {
    let entry = convert::provider(entry);
    let fill = |target: &mut String, from: &str| {
        if target.is_empty() {
            *target = from.to_owned();
        }
    };
    fill(&mut provider.name, &entry.name);
    fill(&mut provider.authorization_url, &entry.authorization_url);
    fill(&mut provider.token_url, &entry.token_url);
    fill(&mut provider.revocation_url, &entry.revocation_url);
    fill(&mut provider.userinfo_url, &entry.userinfo_url);
    if provider.scopes.is_empty() {
        provider.scopes = entry.scopes;
    }
    if provider.authorization_parameters.is_empty() {
        provider.authorization_parameters = entry.authorization_parameters;
    }
    if provider.token_parameters.is_empty() {
        provider.token_parameters = entry.token_parameters;
    }
    if provider.max_tokens_per_user == 0 && provider.warn_tokens_per_user == 0 {
        provider.max_tokens_per_user = entry.max_tokens_per_user;
        provider.warn_tokens_per_user = entry.warn_tokens_per_user;
    }
    let unset = |limit: &Option<ApiLimit>| limit.as_ref().is_none_or(|l| *l == ApiLimit::default());
    if unset(&provider.token_limit) {
        provider.token_limit = entry.token_limit;
    }
    if unset(&provider.rate_limit_key_limit) {
        provider.rate_limit_key_limit = entry.rate_limit_key_limit;
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
        "token_parameters" => !p.token_parameters.is_empty(),
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
        "token_limit" => target.token_limit = given.token_limit.clone(),
        "rate_limit_key_limit" => target.rate_limit_key_limit = given.rate_limit_key_limit.clone(),
        "token_parameters" => target.token_parameters = given.token_parameters.clone(),
        _ => {}
    }
}
