//! Valid access tokens for data sources, refreshed exactly once per expiry.
//!
//! A token that is not expiring is read and returned without a lock. One that is expiring
//! (or that the caller saw rejected) is refreshed by one task per token and process
//! (`super::refresh`), which every other caller of that process joins, so a burst of callers
//! costs one connection however large it is. That task takes the token's advisory lock,
//! where the tasks of every replica queue, re-reads the token, and only if it still needs it
//! calls the provider and stores the result (see docs/tokens.md).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use uuid::Uuid;

use super::refresh::Flights;
use super::{open, token_subject};
use crate::crypto::Keyring;
use crate::domain::columns;
use crate::oauth::OAuthClient;
use crate::secret::Secret;
use crate::store::tokens::{self as token_store, StoredToken};

/// The longest lifetime an access token is credited with, whatever the provider's
/// `expires_in` says: a provider's answer never makes a date we cannot store or compute
/// with, and a token is refreshed at least this often.
pub const MAX_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

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
        if secrets.access_token.is_none() {
            return true;
        }
        if rejected_generation != 0 && rejected_generation >= secrets.generation {
            return true;
        }
        let Some(expire) = secrets.expire_time else {
            return false;
        };
        // A window too large to add to now covers every expiry.
        chrono::Duration::from_std(self.window)
            .ok()
            .and_then(|window| Utc::now().checked_add_signed(window))
            .is_none_or(|horizon| expire <= horizon)
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
        })
    }
}

/// When an access token that lives `expires_in` from now expires, the lifetime clamped to
/// [`MAX_ACCESS_TOKEN_LIFETIME`]. A lifetime of zero expires now: the token goes to the
/// caller that asked for it and the next caller refreshes it again.
pub fn expire_time(expires_in: Option<Duration>) -> Option<DateTime<Utc>> {
    expires_in.map(|lifetime| expire_after(Utc::now(), lifetime))
}

fn expire_after(now: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lifetime.min(MAX_ACCESS_TOKEN_LIFETIME))
        .ok()
        .and_then(|lifetime| now.checked_add_signed(lifetime))
        .unwrap_or(now)
}

/// Only an ACTIVE token hands out access tokens.
pub(super) fn usable(stored: &StoredToken) -> ApiResult<()> {
    let token = &stored.token;
    let why = match token.status.as_str() {
        token_store::ACTIVE => return Ok(()),
        token_store::NEEDS_REAUTHORIZATION => "it needs re-authorization",
        token_store::INVALIDATED_BY_PROVIDER => {
            "the provider invalidated it (too many tokens for its user); re-authorize it"
        }
        _ => "it was revoked",
    };
    let detail = if token.status_message.is_empty() {
        why.to_owned()
    } else {
        format!("{why}: {}", token.status_message)
    };
    Err(ApiError::precondition(
        "TOKEN_STATUS",
        token_subject(token.id),
        format!("the token is not usable: {detail}"),
    ))
}

pub(super) fn needs_reauthorization(token_id: Uuid, why: &str) -> ApiError {
    ApiError::precondition(
        "TOKEN_STATUS",
        token_subject(token_id),
        format!("the token needs re-authorization: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_lifetime_is_clamped_to_a_year() {
        let now = Utc::now();
        let year = chrono::Duration::from_std(MAX_ACCESS_TOKEN_LIFETIME).unwrap();
        assert_eq!(
            expire_after(now, Duration::from_secs(3600)),
            now + chrono::Duration::hours(1)
        );
        for huge in [
            MAX_ACCESS_TOKEN_LIFETIME + Duration::from_secs(1),
            Duration::from_secs(10u64.pow(15)),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            assert_eq!(expire_after(now, huge), now + year, "{huge:?}");
        }
        assert_eq!(expire_after(now, Duration::ZERO), now);
        // Near the end of time nothing overflows either.
        assert_eq!(
            expire_after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert!(expire_time(None).is_none());
    }
}
