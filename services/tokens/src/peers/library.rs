//! The library service, asked which data sources, in every account, name a token (T3), and
//! which partner an account belongs to (who sees a family's OAuth apps).
//!
//! Data sources live in the library; its ListDataSources, called with a service token and a
//! `token_id`, lists them across accounts. GetAccount, with a service token, tells an
//! account's partner; answers are remembered for [`PARENT_CACHE_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::Code;
use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::pagination::collect_pages;
use trellis_platform::peer::on_our_behalf;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::library::v1::{GetAccountRequest, ListDataSourcesRequest};
use uuid::Uuid;

use crate::domain::usage::DataSourceRef;

/// Data sources asked for per page.
const PAGE_SIZE: i32 = 1000;

/// The most data sources a token's uses are told with: far more than any token has.
const MAX_DATA_SOURCES: usize = 100_000;

/// How long an account's partner is remembered: a client moves to another family only by
/// an operator's hand, and its apps' visibility follows within this.
pub const PARENT_CACHE_TTL: Duration = Duration::from_secs(30);

/// The most accounts whose partner is remembered at once.
const PARENT_CACHE_ENTRIES: usize = 10_000;

type Parents = HashMap<Uuid, (Option<Uuid>, Instant)>;

#[derive(Clone)]
pub struct Library {
    client: LibraryServiceClient<TracedChannel>,
    tokens: ServiceTokens,
    parents: Arc<Mutex<Parents>>,
}

impl Library {
    pub fn new(channel: TracedChannel, tokens: ServiceTokens) -> Self {
        Self {
            client: LibraryServiceClient::new(channel),
            tokens,
            parents: Arc::default(),
        }
    }

    fn parents(&self) -> std::sync::MutexGuard<'_, Parents> {
        // A panic while holding it left nothing half-changed: a map of answers.
        self.parents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The partner of `account` if it is a client; NOT_FOUND for an account the library
    /// does not know.
    pub async fn parent_of(&self, account: Uuid) -> ApiResult<Option<Uuid>> {
        if let Some((parent, at)) = self.parents().get(&account).copied()
            && at.elapsed() < PARENT_CACHE_TTL
        {
            return Ok(parent);
        }
        let bearer = self.tokens.bearer(ServiceKind::Library);
        let request = authorized(
            GetAccountRequest {
                id: account.to_string(),
            },
            &bearer,
        );
        let answer = self.client.clone().get_account(request).await;
        let found = match answer {
            Ok(answer) => answer.into_inner().account,
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(on_our_behalf("library")(status)),
        };
        let Some(found) = found else {
            return Err(ApiError::not_found("account", account));
        };
        // A parent the library sends malformed is no partner anyone can be told of.
        let parent = Uuid::parse_str(&found.parent_id).ok();
        let mut parents = self.parents();
        if parents.len() >= PARENT_CACHE_ENTRIES {
            parents.retain(|_, (_, at)| at.elapsed() < PARENT_CACHE_TTL);
            if parents.len() >= PARENT_CACHE_ENTRIES {
                parents.clear();
            }
        }
        parents.insert(account, (parent, Instant::now()));
        Ok(parent)
    }

    /// Every data source, in any account, that names `token_id`. One whose ids the library
    /// sends malformed is skipped: it cannot be told to anyone.
    pub async fn data_sources_naming(&self, token_id: Uuid) -> ApiResult<Vec<DataSourceRef>> {
        let bearer = self.tokens.bearer(ServiceKind::Library);
        let pages = collect_pages(MAX_DATA_SOURCES, |page_token| {
            let mut library = self.client.clone();
            let request = ListDataSourcesRequest {
                account_id: String::new(),
                token_id: token_id.to_string(),
                credential_id: String::new(),
                page_size: PAGE_SIZE,
                page_token,
            };
            let request = authorized(request, &bearer);
            async move {
                let page = library.list_data_sources(request).await?.into_inner();
                Ok((page.data_sources, page.next_page_token))
            }
        })
        .await
        .map_err(on_our_behalf("library"))?;
        Ok(pages
            .into_iter()
            .filter_map(|data_source| {
                Some(DataSourceRef {
                    account_id: Uuid::parse_str(&data_source.account_id).ok()?,
                    id: Uuid::parse_str(&data_source.id).ok()?,
                    name: data_source.name,
                })
            })
            .collect())
    }
}
