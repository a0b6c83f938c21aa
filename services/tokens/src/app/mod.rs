//! The use cases: the work of each RPC, over the stores, the domain rules and the peers.
//! Handlers in `crate::api` read a request into typed values, call one of these (inside
//! the platform's transaction-with-replay when the call changes something) and convert
//! the answer.

pub mod access;
pub mod authorization;
mod caps;
pub mod copies;
pub mod credentials;
pub mod grants;
pub mod holding;
pub mod providers;
pub mod providers_catalogue;
mod refresh;
pub mod tokens;

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use trellis_platform::db::{DbConn, DbPool};
use trellis_platform::error::{ApiResult, StoreError};
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::domain::usage::{self, TokenUse};
use crate::peers::library::Library;
use crate::peers::oauth::OAuthClient;
use crate::settings::Settings;
use crate::store::grants as grant_store;
use access::AccessTokens;

/// What the use cases work with. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub pool: DbPool,
    pub keyring: Keyring,
    pub oauth: OAuthClient,
    pub settings: Settings,
    pub access: AccessTokens,
    pub library: Library,
}

impl App {
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.pool.get().await.map_err(StoreError::from)?)
    }

    /// T3: the data sources, in every account, that use token `token_id` of `owner`: the
    /// owner's that name it, and those of other accounts holding one of its grants.
    pub async fn uses(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        owner: Uuid,
    ) -> ApiResult<Vec<TokenUse>> {
        let grants: HashMap<Uuid, Uuid> = grant_store::of_token(conn, token_id)
            .await?
            .into_iter()
            .map(|grant| (grant.data_source_id, grant.id))
            .collect();
        let data_sources = self.library.data_sources_naming(token_id).await?;
        Ok(usage::uses(owner, data_sources, &grants))
    }
}
