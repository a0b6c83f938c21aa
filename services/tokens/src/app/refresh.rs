//! The refresh of one token: one task per token and process, which runs to its end whoever
//! waits for it.
//!
//! The first caller that finds a token expiring spawns the task; callers of the same
//! process that come while it runs join it instead of queueing on the database, so a burst
//! of callers costs one pooled connection. The task takes the token's session-level
//! advisory lock (`tokens.refresh/<id>`), where the tasks of every replica queue,
//! re-reads the token, and only if it still needs it calls the provider, outside any
//! transaction, then stores the result conditional on the generation it read. Because the
//! task is spawned, a caller that hangs up or times out after the provider rotated the
//! refresh token cannot make the new one be lost: the store happens anyway. A stopping
//! process waits for its running refreshes ([`AccessTokens::drain`]) before it exits.
//!
//! On `invalid_grant` the token is read again outside the lock before being declared dead:
//! if its generation moved (a re-authorization or another replica replaced the secrets
//! while our request was in flight) the fresh secrets are used instead. Only a token whose
//! secrets are still the ones the provider refused is marked NEEDS_REAUTHORIZATION, and
//! that mark is itself conditional on the generation. See docs/tokens.md.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use diesel_async::AsyncPgConnection;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use uuid::Uuid;

use super::access::{Access, AccessTokens, usable};
use crate::domain::access::{expire_time, needs_reauthorization};
use crate::domain::providers::refreshed_parameters;
use crate::domain::{TokenState, client_secret, columns, open, seal, token_subject};
use crate::peers::oauth::{IssuedToken, ProviderError};
use crate::store::tokens::{self as token_store};
use crate::store::{issued, providers};
use trellis_platform::db::transaction;
use trellis_platform::session_lock::SessionLock;

/// A running refresh's answer, shared by every caller that waits for it.
type Flight = Shared<BoxFuture<'static, Result<Access, Arc<ApiError>>>>;

/// The refreshes running in this process, by token.
#[derive(Default)]
pub(super) struct Flights {
    running: Mutex<HashMap<Uuid, Flight>>,
}

impl Flights {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Flight>> {
        // A panic while the map was held leaves it consistent (inserts and removes only).
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes a refresh from [`Flights`] when its task ends, also by a panic.
struct Landing {
    flights: Arc<Flights>,
    token_id: Uuid,
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.flights.running().remove(&self.token_id);
    }
}

/// What the locked part of a refresh ended with.
enum Locked {
    Done(Access),
    /// The provider refused the refresh token of this generation.
    InvalidGrant {
        generation: i64,
        description: String,
    },
    /// A failure whose status change is already stored.
    Failed(ApiError),
}

impl AccessTokens {
    /// Waits for every refresh running in this process, so that a stopping process stores
    /// what the providers answered (a rotated refresh token is not sent twice).
    pub fn drain(&self) -> impl Future<Output = ()> + Send + use<> {
        let running: Vec<Flight> = self.flights.running().values().cloned().collect();
        async move {
            futures::future::join_all(running).await;
        }
    }

    /// Refreshes `token_id` (or joins the refresh of it running in this process) and
    /// answers with what it stored. Only the caller that started the refresh sees
    /// `refreshed`.
    pub(super) async fn refresh(
        &self,
        token_id: Uuid,
        rejected_generation: i64,
    ) -> ApiResult<Access> {
        let (flight, started) = {
            let mut running = self.flights.running();
            match running.get(&token_id) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let flight = self.take_off(token_id, rejected_generation);
                    running.insert(token_id, flight.clone());
                    (flight, true)
                }
            }
        };
        match flight.await {
            Ok(access) if started => Ok(access),
            Ok(access) => Ok(Access {
                refreshed: false,
                ..access
            }),
            Err(error) if started => Err(Arc::try_unwrap(error).unwrap_or_else(|e| duplicate(&e))),
            Err(error) => Err(duplicate(&error)),
        }
    }

    /// Spawns the refresh: it runs to its end even when every caller has gone.
    fn take_off(&self, token_id: Uuid, rejected_generation: i64) -> Flight {
        let tokens = self.clone();
        let task = tokio::spawn(async move {
            let _landing = Landing {
                flights: tokens.flights.clone(),
                token_id,
            };
            tokens.refresh_now(token_id, rejected_generation).await
        });
        async move {
            match task.await {
                Ok(result) => result.map_err(Arc::new),
                Err(failure) => Err(Arc::new(ApiError::internal(anyhow::anyhow!(
                    "the refresh of token {token_id} failed: {failure}"
                )))),
            }
        }
        .boxed()
        .shared()
    }

    async fn refresh_now(&self, token_id: Uuid, rejected_generation: i64) -> ApiResult<Access> {
        let busy = || {
            ApiError::Unavailable(format!(
                "waited too long to refresh token {token_id}: too many refreshes are running; call again"
            ))
        };
        let _slot = tokio::time::timeout(self.lock_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(ApiError::internal)?;
        let conn = tokio::time::timeout(self.lock_timeout, self.pool.get())
            .await
            .map_err(|_| busy())?
            .map_err(StoreError::from)?;
        let key = format!("tokens.refresh/{token_id}");
        let mut lock = SessionLock::acquire(conn, &key, self.lock_timeout)
            .await?
            .ok_or_else(|| StoreError::Unavailable("waited too long for a lock".into()))?;
        let outcome = self
            .refresh_locked(lock.conn(), token_id, rejected_generation)
            .await;
        lock.release().await;
        match outcome? {
            Locked::Done(access) => Ok(access),
            Locked::Failed(error) => Err(error),
            Locked::InvalidGrant {
                generation,
                description,
            } => {
                let mut conn = self.pool.get().await.map_err(StoreError::from)?;
                self.after_invalid_grant(&mut conn, token_id, generation, &description)
                    .await
            }
        }
    }

    /// Holding the token's lock: re-reads it, and refreshes it if it still needs it. The
    /// provider is called outside any transaction; its answer is stored in one statement,
    /// conditional on the generation read here.
    async fn refresh_locked(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        rejected_generation: i64,
    ) -> ApiResult<Locked> {
        // Re-read after acquiring: whoever held the lock may have refreshed it.
        let stored = token_store::get(conn, token_id).await?;
        usable(&stored)?;
        if !self.needs_refresh(&stored, rejected_generation) {
            return Ok(Locked::Done(self.current(&stored, false)?));
        }
        let generation = stored.secrets.generation;
        let id = token_id.to_string();
        let Some(sealed_refresh) = stored.secrets.refresh_token.as_deref() else {
            return self.without_refresh_token(conn, token_id, generation).await;
        };
        let refresh_token = open(&self.keyring, sealed_refresh, columns::REFRESH_TOKEN, &id)?;
        let provider = providers::get(conn, stored.token.provider_id).await?;
        let secret = client_secret(
            &self.keyring,
            provider.id,
            provider.client_secret.as_deref(),
        )?;

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
            Err(error) => return Err(provider_failure(token_id, error)),
        };

        let kept = stored.token.parameters();
        let parameters =
            refreshed_parameters(&kept, &issued.parameters, &provider.token_parameters);
        let changed = parameters != kept;
        self.store_issued(conn, token_id, generation, issued, (parameters, changed))
            .await
    }

    /// Stores what the provider issued for the refresh of `generation`, unless the token was
    /// re-authorized meanwhile: then its secrets win over ours.
    async fn store_issued(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        generation: i64,
        issued: IssuedToken,
        (parameters, changed): (BTreeMap<String, String>, bool),
    ) -> ApiResult<Locked> {
        let id = token_id.to_string();
        let expire_time = expire_time(issued.expires_in);
        let refreshed = token_store::NewSecrets {
            access_token: seal(
                &self.keyring,
                &issued.access_token,
                columns::ACCESS_TOKEN,
                &id,
            ),
            refresh_token: issued
                .refresh_token
                .as_ref()
                .map(|r| seal(&self.keyring, r, columns::REFRESH_TOKEN, &id)),
            token_type: &issued.token_type,
            expire_time,
        };
        let written = changed.then_some(&parameters);
        if !token_store::store_refresh(conn, token_id, generation, refreshed, written).await? {
            return Ok(Locked::Done(self.reread(conn, token_id).await?));
        }
        tracing::info!(token_id = %token_id, generation = generation + 1, "access token refreshed");
        Ok(Locked::Done(Access {
            access_token: issued.access_token,
            token_type: issued.token_type,
            expire_time,
            refreshed: true,
            generation: generation + 1,
            parameters,
        }))
    }

    /// A token that expired without a refresh token needs re-authorization, unless it was
    /// re-authorized since it was read: then its new secrets are the answer.
    async fn without_refresh_token(
        &self,
        conn: &mut AsyncPgConnection,
        token_id: Uuid,
        generation: i64,
    ) -> ApiResult<Locked> {
        let marked = token_store::set_status(
            conn,
            token_id,
            TokenState::NeedsReauthorization,
            "the access token expired and the provider gave no refresh token",
            Some(generation),
        )
        .await?;
        if !marked {
            return Ok(Locked::Done(self.reread(conn, token_id).await?));
        }
        Ok(Locked::Failed(needs_reauthorization(
            token_id,
            "it expired and has no refresh token",
        )))
    }

    /// The token's current secrets, read again after another writer replaced them.
    async fn reread(&self, conn: &mut AsyncPgConnection, token_id: Uuid) -> ApiResult<Access> {
        let stored = token_store::get(conn, token_id).await?;
        usable(&stored)?;
        self.current(&stored, false)
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
                // Stored as the token's status message: no control characters.
                description
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>()
            )
        };
        let marked = transaction::<_, ApiError, _>(conn, async |conn| {
            let marked = token_store::set_status(
                conn,
                token_id,
                TokenState::NeedsReauthorization,
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
            return self.reread(conn, token_id).await;
        }
        tracing::warn!(token_id = %token_id, "token needs re-authorization after invalid_grant");
        Err(needs_reauthorization(
            token_id,
            "the provider refused its refresh token",
        ))
    }
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

/// The answer of a shared refresh, for one more of its callers. An internal failure keeps
/// its cause's text, so each answer's log line tells what failed.
fn duplicate(error: &ApiError) -> ApiError {
    match error {
        ApiError::InvalidArgument(violations) => ApiError::InvalidArgument(violations.clone()),
        ApiError::NotFound { resource, id } => ApiError::NotFound {
            resource,
            id: id.clone(),
        },
        ApiError::AlreadyExists { resource, id } => ApiError::AlreadyExists {
            resource,
            id: id.clone(),
        },
        ApiError::PermissionDenied(message) => ApiError::PermissionDenied(message.clone()),
        ApiError::Unauthenticated(message) => ApiError::Unauthenticated(message.clone()),
        ApiError::FailedPrecondition(violations) => {
            ApiError::FailedPrecondition(violations.clone())
        }
        ApiError::Aborted(message) => ApiError::Aborted(message.clone()),
        ApiError::ResourceExhausted {
            message,
            retry_after,
        } => ApiError::ResourceExhausted {
            message: message.clone(),
            retry_after: *retry_after,
        },
        ApiError::Unavailable(message) => ApiError::Unavailable(message.clone()),
        ApiError::Internal(cause) => {
            ApiError::internal(anyhow::anyhow!("token refresh: {cause:#}"))
        }
    }
}
