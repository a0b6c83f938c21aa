//! T3: every data source, in every account, that uses a token.
//!
//! Data sources live in the library service; its ListDataSources, called with a service
//! token and a `token_id`, lists them across accounts. The grants here say how the ones in
//! other accounts reach the token (I6).

use std::collections::HashMap;

use trellis_platform::auth::ServiceTokens;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_proto::library::v1::ListDataSourcesRequest;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1::{TokenUse, TokenUseVia};
use uuid::Uuid;

use crate::store::grants::GrantRow;

#[derive(Clone)]
pub struct UsageFinder {
    library: LibraryServiceClient<TracedChannel>,
    tokens: ServiceTokens,
}

impl UsageFinder {
    pub fn new(library: TracedChannel, tokens: ServiceTokens) -> Self {
        Self {
            library: LibraryServiceClient::new(library),
            tokens,
        }
    }

    /// The uses of a token of `owner`: its data sources in the owning account (masters), and
    /// those of other accounts that hold one of `grants` (instances). A data source of
    /// another account without a grant cannot use the token and is not listed.
    pub async fn uses(
        &self,
        token_id: Uuid,
        owner: Uuid,
        grants: &[GrantRow],
    ) -> ApiResult<Vec<TokenUse>> {
        let by_data_source: HashMap<Uuid, &GrantRow> =
            grants.iter().map(|g| (g.data_source_id, g)).collect();
        let mut library = self.library.clone();
        let bearer = self.tokens.bearer(ServiceKind::Library);
        let mut uses = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListDataSourcesRequest {
                account_id: String::new(),
                token_id: token_id.to_string(),
                credential_id: String::new(),
                page_size: 1000,
                page_token: page_token.clone(),
            };
            let page = library
                .list_data_sources(authorized(request, &bearer))
                .await
                .map_err(|status| {
                    tracing::warn!(code = ?status.code(), message = status.message(), "library ListDataSources failed");
                    ApiError::Unavailable(format!(
                        "the library service could not list the data sources using the token ({:?}: {})",
                        status.code(),
                        status.message()
                    ))
                })?
                .into_inner();
            for data_source in page.data_sources {
                let account = Uuid::parse_str(&data_source.account_id).ok();
                let id = Uuid::parse_str(&data_source.id).ok();
                let (Some(account), Some(id)) = (account, id) else {
                    continue;
                };
                if account == owner {
                    uses.push(TokenUse {
                        account_id: account.to_string(),
                        data_source_id: id.to_string(),
                        data_source_name: data_source.name,
                        via: TokenUseVia::Owner as i32,
                        master: true,
                        grant_id: String::new(),
                    });
                } else if let Some(grant) = by_data_source.get(&id) {
                    uses.push(TokenUse {
                        account_id: account.to_string(),
                        data_source_id: id.to_string(),
                        data_source_name: data_source.name,
                        via: TokenUseVia::Grant as i32,
                        master: false,
                        grant_id: grant.id.to_string(),
                    });
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        Ok(uses)
    }
}
