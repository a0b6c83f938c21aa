//! Valid access tokens for data sources, refreshed exactly once per expiry.
//!
//! A token that is not expiring is read and returned without a lock. One that is expiring
//! (or that the caller saw rejected) is refreshed by one task per token and process
//! (`super::refresh`), which every other caller of that process joins, so a burst of callers
//! costs one connection however large it is. That task takes the token's advisory lock,
//! where the tasks of every replica queue, re-reads the token, and only if it still needs it
//! calls the provider and stores the result (see docs/tokens.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use trellis_platform::error::StoreResultExt;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use uuid::Uuid;

use super::refresh::Flights;
use crate::crypto::Keyring;
use crate::domain::access::{Freshness, needs_refresh};
use crate::domain::{check_bound, columns, open, token_subject};
use crate::peers::oauth::OAuthClient;
use crate::secret::Secret;
use crate::store::grants;
use crate::store::providers::{self, ProviderRow};
use crate::store::tokens::{self as token_store, StoredToken};

/// The smallest pool the service runs with: a refresh holds one connection through its
/// lock wait and its call to the provider, and the other calls need at least one more.
pub const MIN_POOL_SIZE: usize = 2;

/// How many refreshes one call joins before it gives up: each is either the one the call
/// asked for or one that another caller started from an older generation.
const MAX_REFRESHES_JOINED: usize = 3;

/// A usable access token.
#[derive(Debug, Clone)]
pub struct Access {
    pub access_token: Secret,
    pub token_type: String,
    pub expire_time: Option<DateTime<Utc>>,
    pub refreshed: bool,
    pub generation: i64,
    /// The token's parameters (`instance_url`, …), for `{token.NAME}` in a request.
    pub parameters: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct AccessTokens {
    pub pool: DbPool,
    pub keyring: Keyring,
    pub oauth: OAuthClient,
    pub window: Duration,
    /// Longest wait for another replica's refresh of the same token, and for a free
    /// refresh slot in this process.
    pub lock_timeout: Duration,
    pub(super) flights: Arc<Flights>,
    /// Refreshes running at once in this process: each holds one pooled connection while
    /// it waits on the lock and on the provider, so they never take the whole pool.
    pub(super) slots: Arc<Semaphore>,
}

impl AccessTokens {
    pub fn new(
        pool: DbPool,
        keyring: Keyring,
        oauth: OAuthClient,
        window: Duration,
        lock_timeout: Duration,
    ) -> Self {
        let slots = (pool.status().max_size / 2).max(1);
        Self {
            pool,
            keyring,
            oauth,
            window,
            lock_timeout,
            flights: Arc::default(),
            slots: Arc::new(Semaphore::new(slots)),
        }
    }

    /// A valid access token of `token_id`; refreshes it first when it expires within the
    /// window or when `rejected_generation` is its current generation.
    pub async fn access_token(
        &self,
        token_id: Uuid,
        rejected_generation: i64,
    ) -> ApiResult<Access> {
        let stored = {
            let mut conn = self.pool.get().await.map_err(StoreError::from)?;
            token_store::get(&mut conn, token_id).await?
        };
        usable(&stored)?;
        if rejected_generation > stored.secrets.generation {
            return Err(ApiError::invalid(
                "rejected_generation",
                format!(
                    "the token has not reached generation {rejected_generation} (it is at {})",
                    stored.secrets.generation
                ),
            ));
        }
        if !self.needs_refresh(&stored, rejected_generation) {
            return self.current(&stored, false);
        }
        for _ in 0..MAX_REFRESHES_JOINED {
            let access = self.refresh(token_id, rejected_generation).await?;
            // A refresh another caller started may end at the generation this one saw
            // rejected (it found the token fresh): then this caller needs the next one.
            if rejected_generation == 0 || access.generation > rejected_generation {
                return Ok(access);
            }
        }
        Err(ApiError::Aborted(format!(
            "token {token_id} kept changing while it was refreshed; call again"
        )))
    }

    pub(super) fn needs_refresh(&self, stored: &StoredToken, rejected_generation: i64) -> bool {
        let secrets = &stored.secrets;
        let freshness = Freshness {
            has_access_token: secrets.access_token.is_some(),
            generation: secrets.generation,
            expire_time: secrets.expire_time,
        };
        needs_refresh(self.window, freshness, rejected_generation)
    }

    pub(super) fn current(&self, stored: &StoredToken, refreshed: bool) -> ApiResult<Access> {
        let sealed = stored.secrets.access_token.as_deref().ok_or_else(|| {
            ApiError::precondition(
                "TOKEN_STATUS",
                token_subject(stored.token.id),
                "the token holds no access token; re-authorize it",
            )
        })?;
        let id = stored.token.id.to_string();
        Ok(Access {
            access_token: open(&self.keyring, sealed, columns::ACCESS_TOKEN, &id)?,
            token_type: stored.secrets.token_type.clone(),
            expire_time: stored.secrets.expire_time,
            refreshed,
            generation: stored.secrets.generation,
            parameters: stored.token.parameters(),
        })
    }
}

/// Only an ACTIVE token hands out access tokens.
pub(super) fn usable(stored: &StoredToken) -> ApiResult<()> {
    crate::domain::access::usable(
        stored.token.id,
        stored.token.status,
        &stored.token.status_message,
    )
}

/// Where an access token is asked for: the token, and the data source that will use it.
#[derive(Debug, Clone, Copy)]
pub struct TokenUseAsked<'a> {
    pub token_id: Uuid,
    pub account_id: Uuid,
    pub data_source_id: Uuid,
    pub request_fingerprint: &'a str,
    pub rejected_generation: i64,
}

impl super::App {
    /// I6: an access token for the owner's data sources, or exactly the data source a grant
    /// names (bound to the query it was made for, I14).
    pub async fn access_token(&self, asked: TokenUseAsked<'_>) -> ApiResult<Access> {
        let TokenUseAsked {
            token_id,
            account_id: account,
            data_source_id: data_source,
            ..
        } = asked;
        {
            let mut conn = self.conn().await?;
            let stored = token_store::get(&mut conn, token_id)
                .await
                .about("token", token_id)?;
            if stored.token.account_id != account {
                let grant = grants::find(&mut conn, token_id, data_source)
                    .await?
                    .filter(|g| g.grantee_account_id == account)
                    .ok_or_else(|| {
                        ApiError::PermissionDenied(format!(
                            "data source {data_source} of account {account} holds no grant on token {token_id}"
                        ))
                    })?;
                check_bound(
                    &grant.request_fingerprint,
                    asked.request_fingerprint,
                    data_source,
                )?;
            }
        }
        self.access
            .access_token(token_id, asked.rejected_generation)
            .await
    }

    /// The limits of the provider of token `token_id` (F5).
    pub async fn token_limits(&self, token_id: Uuid) -> ApiResult<ProviderRow> {
        let mut conn = self.conn().await?;
        let stored = token_store::get(&mut conn, token_id)
            .await
            .about("token", token_id)?;
        Ok(providers::get(&mut conn, stored.token.provider_id).await?)
    }
}
