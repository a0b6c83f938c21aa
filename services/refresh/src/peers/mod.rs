//! The services the refresh service calls: the library (data-source definitions and their
//! resolution, I13; Klips, dashboards and rendering for email reports, F7) and the token
//! registry (access tokens, credential secrets, limits).
//! Background work calls them with a short-lived service token (DESIGN.md section 3); a
//! handler acting for a user forwards the user's own token instead. `convert` reads their
//! answers into the service's own values.

pub mod convert;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::Status;
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::{CommonConfig, ServiceKind};
use trellis_platform::pagination;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::library::v1::{
    Dashboard, DataSource, GetDashboardRequest, GetDataSourceRequest, GetKlipRequest, Klip,
    ListDataSourcesRequest, RenderKlipRequest, RenderedKlip, ResolveDataSourceRequest,
    ResolvedRequest,
};
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::{
    GetAccessTokenRequest, GetAccessTokenResponse, GetCredentialSecretRequest,
    GetCredentialSecretResponse, GetTokenLimitsRequest,
};
use uuid::Uuid;

use crate::domain::limits::TokenLimits;
use crate::fetch::OAuthToken;

/// Data sources of one account read at most while syncing it: a library that never stops
/// paging cannot hold a sync forever.
const MAX_DATA_SOURCES: usize = 100_000;

/// The limits read per token and rate-limit key, and when.
type LimitsCache = HashMap<(String, String), (Instant, TokenLimits)>;

/// An access token as the token registry gave it for a fetch.
pub struct AccessToken {
    /// The token and its parameters.
    pub access_token: OAuthToken,
    /// Pass it as `rejected_generation` after a 401.
    pub generation: i64,
}

/// Clients of the library and the token registry.
pub struct Peers {
    library: LibraryServiceClient<TracedChannel>,
    tokens: TokenServiceClient<TracedChannel>,
    service_tokens: ServiceTokens,
    limits: Mutex<LimitsCache>,
    limits_ttl: Duration,
}

impl Peers {
    pub fn new(
        common: &CommonConfig,
        service_tokens: ServiceTokens,
        limits_ttl: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            library: LibraryServiceClient::new(client::channel(&common.library_url)?),
            tokens: TokenServiceClient::new(client::channel(&common.tokens_url)?),
            service_tokens,
            limits: Mutex::new(HashMap::new()),
            limits_ttl,
        })
    }

    /// This service's token for calls to the library.
    fn library_token(&self) -> String {
        self.service_tokens.bearer(ServiceKind::Library)
    }

    /// This service's token for calls to the token registry.
    fn tokens_token(&self) -> String {
        self.service_tokens.bearer(ServiceKind::Tokens)
    }

    /// Every data source of an account, page by page.
    pub async fn list_data_sources(&self, account_id: Uuid) -> Result<Vec<DataSource>, Status> {
        pagination::collect_pages(MAX_DATA_SOURCES, move |page_token: String| async move {
            let request = ListDataSourcesRequest {
                account_id: account_id.to_string(),
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            };
            let page = self
                .library
                .clone()
                .list_data_sources(authorized(request, &self.library_token()))
                .await?
                .into_inner();
            // A token that does not move on would page forever.
            let next = if page.next_page_token == page_token {
                String::new()
            } else {
                page.next_page_token
            };
            Ok((page.data_sources, next))
        })
        .await
    }

    /// Resolves a data source for an account and user (empty: no user values). `bearer` is
    /// the caller's token when acting for a caller, else the service token is used.
    pub async fn resolve(
        &self,
        data_source_id: Uuid,
        account_id: Uuid,
        user_id: &str,
        bearer: Option<&str>,
    ) -> Result<ResolvedRequest, Status> {
        let token = bearer.map_or_else(|| self.library_token(), str::to_owned);
        let request = ResolveDataSourceRequest {
            data_source_id: data_source_id.to_string(),
            account_id: account_id.to_string(),
            user_id: user_id.to_owned(),
            date_range: None,
        };
        self.library
            .clone()
            .resolve_data_source(authorized(request, &token))
            .await?
            .into_inner()
            .resolved_request
            .ok_or_else(|| Status::internal("the library resolved nothing"))
    }

    /// A Klip of an account (NOT_FOUND when the account has none by that id).
    pub async fn klip(&self, klip_id: Uuid, account_id: Uuid) -> Result<Klip, Status> {
        let request = GetKlipRequest {
            id: klip_id.to_string(),
            account_id: account_id.to_string(),
        };
        self.library
            .clone()
            .get_klip(authorized(request, &self.library_token()))
            .await?
            .into_inner()
            .klip
            .ok_or_else(|| Status::internal("the library returned no Klip"))
    }

    /// A dashboard of an account.
    pub async fn dashboard(
        &self,
        dashboard_id: Uuid,
        account_id: Uuid,
    ) -> Result<Dashboard, Status> {
        let request = GetDashboardRequest {
            id: dashboard_id.to_string(),
            account_id: account_id.to_string(),
        };
        self.library
            .clone()
            .get_dashboard(authorized(request, &self.library_token()))
            .await?
            .into_inner()
            .dashboard
            .ok_or_else(|| Status::internal("the library returned no dashboard"))
    }

    /// A data source of an account.
    pub async fn data_source(
        &self,
        data_source_id: Uuid,
        account_id: Uuid,
    ) -> Result<DataSource, Status> {
        let request = GetDataSourceRequest {
            id: data_source_id.to_string(),
            account_id: account_id.to_string(),
        };
        self.library
            .clone()
            .get_data_source(authorized(request, &self.library_token()))
            .await?
            .into_inner()
            .data_source
            .ok_or_else(|| Status::internal("the library returned no data source"))
    }

    /// Renders a Klip over the currently cached data, for `user_id`'s values (empty: none).
    pub async fn render_klip(
        &self,
        klip_id: Uuid,
        account_id: Uuid,
        user_id: &str,
    ) -> Result<RenderedKlip, Status> {
        let request = RenderKlipRequest {
            klip_id: klip_id.to_string(),
            account_id: account_id.to_string(),
            user_id: user_id.to_owned(),
        };
        self.library
            .clone()
            .render_klip(authorized(request, &self.library_token()))
            .await?
            .into_inner()
            .rendered_klip
            .ok_or_else(|| Status::internal("the library rendered nothing"))
    }

    /// An access token for a data source's fetch, with the token's parameters for
    /// `{token.NAME}` (`rejected_generation`: the generation an API refused, 0 for none).
    pub async fn access_token(
        &self,
        token_id: &str,
        account_id: Uuid,
        data_source_id: Uuid,
        fingerprint: &str,
        rejected_generation: i64,
    ) -> Result<AccessToken, Status> {
        let request = GetAccessTokenRequest {
            token_id: token_id.to_owned(),
            account_id: account_id.to_string(),
            data_source_id: data_source_id.to_string(),
            rejected_generation,
            request_fingerprint: fingerprint.to_owned(),
        };
        let answer: GetAccessTokenResponse = self
            .tokens
            .clone()
            .get_access_token(authorized(request, &self.tokens_token()))
            .await?
            .into_inner();
        Ok(AccessToken {
            access_token: OAuthToken {
                access_token: answer.access_token,
                parameters: answer.parameters.into_iter().collect(),
            },
            generation: answer.generation,
        })
    }

    pub async fn credential_secret(
        &self,
        credential_id: &str,
        account_id: Uuid,
        data_source_id: Uuid,
        fingerprint: &str,
    ) -> Result<GetCredentialSecretResponse, Status> {
        let request = GetCredentialSecretRequest {
            credential_id: credential_id.to_owned(),
            data_source_id: data_source_id.to_string(),
            account_id: account_id.to_string(),
            request_fingerprint: fingerprint.to_owned(),
        };
        Ok(self
            .tokens
            .clone()
            .get_credential_secret(authorized(request, &self.tokens_token()))
            .await?
            .into_inner())
    }

    /// The limits of a token and rate-limit key (F5), reused for the `limits_cache` setting.
    pub async fn token_limits(
        &self,
        token_id: &str,
        rate_limit_key: &str,
    ) -> Result<TokenLimits, Status> {
        let cache_key = (token_id.to_owned(), rate_limit_key.to_owned());
        if let Some((fetched, limits)) = self.cached_limits().get(&cache_key)
            && fetched.elapsed() < self.limits_ttl
        {
            return Ok(limits.clone());
        }
        let request = GetTokenLimitsRequest {
            token_id: token_id.to_owned(),
            rate_limit_key: rate_limit_key.to_owned(),
        };
        let limits = convert::token_limits(
            &self
                .tokens
                .clone()
                .get_token_limits(authorized(request, &self.tokens_token()))
                .await?
                .into_inner(),
        );
        self.cached_limits()
            .insert(cache_key, (Instant::now(), limits.clone()));
        Ok(limits)
    }

    /// The cache of limits. A panic while it was held left nothing half-written (each use
    /// is one `get` or `insert`), so a poisoned lock is used as it is.
    fn cached_limits(&self) -> std::sync::MutexGuard<'_, LimitsCache> {
        self.limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
