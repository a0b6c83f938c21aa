//! The library service, asked which data sources, in every account, name a token (T3).
//!
//! Data sources live in the library; its ListDataSources, called with a service token and a
//! `token_id`, lists them across accounts.

use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::error::ApiResult;
use trellis_platform::pagination::collect_pages;
use trellis_platform::peer::on_our_behalf;
use trellis_proto::library::v1::ListDataSourcesRequest;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

use crate::domain::usage::DataSourceRef;

/// Data sources asked for per page.
const PAGE_SIZE: i32 = 1000;

/// The most data sources a token's uses are told with: far more than any token has.
const MAX_DATA_SOURCES: usize = 100_000;

#[derive(Clone)]
pub struct Library {
    client: LibraryServiceClient<TracedChannel>,
    tokens: ServiceTokens,
}

impl Library {
    pub fn new(channel: TracedChannel, tokens: ServiceTokens) -> Self {
        Self {
            client: LibraryServiceClient::new(channel),
            tokens,
        }
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
