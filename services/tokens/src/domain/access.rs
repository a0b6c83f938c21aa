//! Valid access tokens for data sources, refreshed exactly once per expiry.
//!
//! A token that is not expiring is read and returned without a lock. One that is expiring
//! (or that the caller saw rejected) is refreshed under a transaction-scoped advisory lock
//! on the token: every caller on every replica queues there, and each re-reads the token
//! after acquiring it, so only the first finds it still expiring and calls the provider;
//! the others find the new access token. The refresh's write is conditional on the
//! generation it started from and lands in the same transaction as the new refresh token,
//! so a provider that rotates single-use refresh tokens never sees one used twice by us.
//!
//! On `invalid_grant` the token is read again outside the lock before being declared dead:
//! if its generation moved (a re-authorization or another replica replaced the secrets
//! while our request was in flight) the fresh secrets are used instead. Only a token whose
//! secrets are still the ones the provider refused is marked NEEDS_REAUTHORIZATION, and
//! that mark is itself conditional on the generation. See docs/tokens.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use uuid::Uuid;

use super::{client_secret, columns, open, seal, token_subject};
use crate::crypto::Keyring;
use crate::oauth::{OAuthClient, ProviderError};
use crate::secret::Secret;
use crate::store::tokens::{self as token_store, StoredToken};
use crate::store::{self, TxError, issued, providers};

/// A usable access token.
#[derive(Debug, Clone)]
pub struct Access {
    pub access_token: Secret,
    pub token_type: String,
    pub expire_time: Option<DateTime<Utc>>,
    pub refreshed: bool,
    pub generation: i64,
}

/// What the locked part of a refresh ended with.
enum Locked {
    Done(Access),
    /// The provider refused the refresh token of this generation.
    InvalidGrant {
        generation: i64,
        description: String,
    },
    /// A failure whose status change must still be committed.
    Failed(ApiError),
}

#[derive(Clone)]
pub struct AccessTokens {
    pub pool: DbPool,
    pub keyring: Keyring,
    pub oauth: OAuthClient,
    pub window: Duration,
    /// Longest wait for another caller's refresh of the same token.
    pub lock_timeout: Duration,
}

impl AccessTokens {
    /// A valid access token of `token_id`; refreshes it first when it expires within the
    /// window or when `rejected_generation` is its current generation.
    pub async fn access_token(
        &self,
        token_id: Uuid,
        rejected_generation: i64,
    ) -> ApiResult<Access> {
        let mut conn = self.pool.get().await.map_err(StoreError::from)?;
        let stored = token_store::get(&mut conn, token_id).await?;
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

        match self
            .refresh_locked(&mut conn, token_id, rejected_generation)
            .await?
        {
            Locked::Done(access) => Ok(access),
            Locked::Failed(error) => Err(error),
            Locked::InvalidGrant {
                generation,
                description,
            } => {
                self.after_invalid_grant(&mut conn, token_id, generation, &description)
                    .await
            }
        }
    }

    fn needs_refresh(&self, stored: &StoredToken, rejected_generation: i64) -> bool {
        let secrets = &stored.secrets;
        if secrets.access_token.is_none() {
            return true;
        }
        if rejected_generation != 0 && rejected_generation >= secrets.generation {
            return true;
        }
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        secrets
            .expire_time
            .is_some_and(|expire| expire <= Utc::now() + window)
    }

    fn current(&self, stored: &StoredToken, refreshed: bool) -> ApiResult<Access> {
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

    /// Takes the token's refresh lock, re-reads it, and refreshes it if it still needs it.
    async fn refresh_locked(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        rejected_generation: i64,
    ) -> ApiResult<Locked> {
        let outcome = conn
            .transaction::<_, TxError, _>(async |conn| {
                store::set_lock_timeout(conn, self.lock_timeout).await?;
                store::lock(conn, &format!("tokens.refresh/{token_id}")).await?;
                // Re-read after acquiring: whoever held the lock may have refreshed it.
                let stored = token_store::get(conn, token_id).await?;
                usable(&stored)?;
                if !self.needs_refresh(&stored, rejected_generation) {
                    return Ok(Locked::Done(self.current(&stored, false)?));
                }
                let generation = stored.secrets.generation;
                let id = token_id.to_string();
                let Some(sealed_refresh) = stored.secrets.refresh_token.as_deref() else {
                    token_store::set_status(
                        conn,
                        token_id,
                        token_store::NEEDS_REAUTHORIZATION,
                        "the access token expired and the provider gave no refresh token",
                        Some(generation),
                    )
                    .await?;
                    return Ok(Locked::Failed(needs_reauthorization(
                        token_id,
                        "it expired and has no refresh token",
                    )));
                };
                let refresh_token = open(&self.keyring, sealed_refresh, columns::REFRESH_TOKEN, &id)?;
                let provider = providers::get(conn, stored.token.provider_id).await?;
                let secret = client_secret(&self.keyring, &provider)?;

                let issued = match self
                    .oauth
                    .refresh(&provider, secret.as_ref(), &refresh_token)
                    .await
                {
                    Ok(issued) => issued,
                    Err(ProviderError::InvalidGrant(description)) => {
                        return Ok(Locked::InvalidGrant {
                            generation,
                            description,
                        });
                    }
                    Err(error) => return Err(provider_failure(token_id, error).into()),
                };

                let expire_time = expire_time(issued.expires_in);
                let stored_refresh = token_store::store_refresh(
                    conn,
                    token_id,
                    generation,
                    token_store::Refreshed {
                        access_token: seal(&self.keyring, &issued.access_token, columns::ACCESS_TOKEN, &id),
                        refresh_token: issued
                            .refresh_token
                            .as_ref()
                            .map(|r| seal(&self.keyring, r, columns::REFRESH_TOKEN, &id)),
                        token_type: &issued.token_type,
                        expire_time,
                    },
                )
                .await?;
                if !stored_refresh {
                    // Re-authorized while we refreshed: its secrets win over ours.
                    let stored = token_store::get(conn, token_id).await?;
                    return Ok(Locked::Done(self.current(&stored, false)?));
                }
                tracing::info!(token_id = %token_id, generation = generation + 1, "access token refreshed");
                Ok(Locked::Done(Access {
                    access_token: issued.access_token,
                    token_type: issued.token_type,
                    expire_time,
                    refreshed: true,
                    generation: generation + 1,
                }))
            })
            .await?;
        Ok(outcome)
    }

    /// The provider refused the refresh token of `generation`. Read the token again: if its
    /// secrets moved on meanwhile, they are the answer; only if they did not is it dead.
    async fn after_invalid_grant(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        generation: i64,
        description: &str,
    ) -> ApiResult<Access> {
        let stored = token_store::get(conn, token_id).await?;
        if stored.secrets.generation != generation {
            tracing::info!(token_id = %token_id, "invalid_grant for a replaced refresh token; using the new secrets");
            usable(&stored)?;
            return self.current(&stored, false);
        }
        let message = if description.is_empty() {
            "the provider refused the refresh token (invalid_grant); re-authorize the token"
                .to_owned()
        } else {
            format!(
                "the provider refused the refresh token (invalid_grant: {}); re-authorize the token",
                description.chars().take(200).collect::<String>()
            )
        };
        let marked = conn
            .transaction::<_, TxError, _>(async |conn| {
                let marked = token_store::set_status(
                    conn,
                    token_id,
                    token_store::NEEDS_REAUTHORIZATION,
                    &message,
                    Some(generation),
                )
                .await?;
                if marked {
                    // The provider no longer keeps it: it stops counting towards T2.
                    issued::forget(conn, token_id, true).await?;
                }
                Ok(marked)
            })
            .await?;
        if !marked {
            let stored = token_store::get(conn, token_id).await?;
            usable(&stored)?;
            return self.current(&stored, false);
        }
        tracing::warn!(token_id = %token_id, "token needs re-authorization after invalid_grant");
        Err(needs_reauthorization(
            token_id,
            "the provider refused its refresh token",
        ))
    }
}

/// When an access token that lives `expires_in` expires.
pub fn expire_time(expires_in: Option<Duration>) -> Option<DateTime<Utc>> {
    expires_in.map(|d| Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX))
}

/// Only an ACTIVE token hands out access tokens.
fn usable(stored: &StoredToken) -> ApiResult<()> {
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

fn needs_reauthorization(token_id: Uuid, why: &str) -> ApiError {
    ApiError::precondition(
        "TOKEN_STATUS",
        token_subject(token_id),
        format!("the token needs re-authorization: {why}"),
    )
}

fn provider_failure(token_id: Uuid, error: ProviderError) -> ApiError {
    match error {
        ProviderError::Unreachable(_) => {
            tracing::warn!(token_id = %token_id, error = %error, "refresh failed");
            ApiError::Unavailable(format!("could not refresh the token: {error}"))
        }
        other => ApiError::precondition(
            "PROVIDER_REFUSED",
            token_subject(token_id),
            format!("the provider did not refresh the token: {other}"),
        ),
    }
}
