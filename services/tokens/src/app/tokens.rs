//! Tokens (connected accounts, T1): listed, read, renamed, deleted (revoked at the provider,
//! refused while data sources use them unless forced, T3), and their uses.

use diesel_async::AsyncPgConnection;
use tonic_types::PreconditionViolation;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use super::App;
use crate::domain::usage::TokenUse;
use crate::domain::{TokenState, client_secret, columns, open};
use crate::store::tokens::{self as store, StoredToken};
use crate::store::{grants, issued, providers};

/// A deletion decided before its transaction: who breaks, and whether the provider
/// confirmed the revocation.
#[derive(Debug)]
pub struct Deletion {
    pub uses: Vec<TokenUse>,
    pub revoked_at_provider: bool,
}

impl App {
    /// The token `id` of `account`; NOT_FOUND when it is not there, in that account.
    pub async fn token_in(&self, id: Uuid, account: Uuid) -> ApiResult<StoredToken> {
        let mut conn = self.conn().await?;
        let stored = store::get(&mut conn, id).await.about("token", id)?;
        if stored.token.account_id != account {
            return Err(ApiError::not_found("token", id));
        }
        Ok(stored)
    }

    /// T1: only tokens the account owns; grants to it are never connected accounts.
    pub async fn list_tokens(
        &self,
        account: Uuid,
        provider: Option<Uuid>,
        after: Option<Uuid>,
        limit: i64,
    ) -> ApiResult<Vec<StoredToken>> {
        let mut conn = self.conn().await?;
        Ok(store::list(&mut conn, account, provider, after, limit).await?)
    }

    /// Checks a deletion of token `id` of `account` and revokes it at the provider. Unless
    /// `force`, refused while anything uses the token (T3).
    pub async fn prepare_token_deletion(
        &self,
        id: Uuid,
        account: Uuid,
        sent_etag: &str,
        force: bool,
    ) -> ApiResult<Deletion> {
        let stored = self.token_in(id, account).await?;
        etag::require(sent_etag, &stored.etag(), "token")?;
        let uses = {
            let mut conn = self.conn().await?;
            self.uses(&mut conn, id, account).await?
        };
        if !uses.is_empty() && !force {
            return Err(in_use(&uses));
        }
        let revoked_at_provider = self.revoke_at_provider(&stored).await?;
        Ok(Deletion {
            uses,
            revoked_at_provider,
        })
    }

    /// Revokes the token at its provider when the provider has a revocation endpoint;
    /// true when the provider confirmed. A failure is logged and the token forgotten anyway.
    async fn revoke_at_provider(&self, stored: &StoredToken) -> ApiResult<bool> {
        let provider = {
            let mut conn = self.conn().await?;
            providers::get(&mut conn, stored.token.provider_id).await?
        };
        if provider.revocation_url.is_empty() || stored.token.status == TokenState::Revoked {
            return Ok(false);
        }
        let id = stored.token.id.to_string();
        let opened = |sealed: Option<&[u8]>, column| {
            sealed
                .map(|s| open(&self.keyring, s, column, &id))
                .transpose()
        };
        let refresh = opened(
            stored.secrets.refresh_token.as_deref(),
            columns::REFRESH_TOKEN,
        )?;
        let access = opened(
            stored.secrets.access_token.as_deref(),
            columns::ACCESS_TOKEN,
        )?;
        let secret = client_secret(
            &self.keyring,
            provider.id,
            provider.client_secret.as_deref(),
        )?;
        let revoked = self
            .oauth
            .revoke(
                &provider,
                secret.as_ref(),
                refresh.as_ref(),
                access.as_ref(),
            )
            .await;
        if let Err(error) = &revoked {
            tracing::warn!(token_id = %stored.token.id, error = %error, "revocation at the provider failed; forgetting the token anyway");
        }
        Ok(revoked.is_ok())
    }

    /// T3: the uses of token `id`, for a caller signed into `viewer` (none for a service).
    pub async fn token_usage(&self, id: Uuid, viewer: Option<Uuid>) -> ApiResult<Vec<TokenUse>> {
        let mut conn = self.conn().await?;
        let stored = store::get(&mut conn, id).await.about("token", id)?;
        if viewer.is_some_and(|account| account != stored.token.account_id) {
            // Whether a token of another account exists is not the caller's to learn.
            return Err(ApiError::not_found("token", id));
        }
        self.uses(&mut conn, id, stored.token.account_id).await
    }
}

/// Renames token `id` of `account` if `sent_etag` matches (no name: no change).
pub async fn rename(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    sent_etag: &str,
    display_name: Option<&str>,
) -> ApiResult<StoredToken> {
    let current = store::get_for_update(conn, id).await.about("token", id)?;
    if current.token.account_id != account {
        return Err(ApiError::not_found("token", id));
    }
    etag::require(sent_etag, &current.etag(), "token")?;
    if let Some(name) = display_name {
        store::rename(conn, id, name).await?;
    }
    Ok(store::get(conn, id).await?)
}

/// Forgets token `id` as `deletion` decided: its grants go, and it stays as a tombstone
/// while data sources still name it, so that they learn it was revoked, not that it never
/// existed.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid, deletion: &Deletion) -> ApiResult<()> {
    grants::delete_of_token(conn, id).await?;
    issued::forget(conn, id, deletion.revoked_at_provider).await?;
    if deletion.uses.is_empty() {
        store::delete(conn, id).await?;
    } else {
        store::mark_revoked(conn, id).await?;
    }
    Ok(())
}

/// The refusal to delete a token that `uses` still use, naming each.
pub fn in_use(uses: &[TokenUse]) -> ApiError {
    let violations = uses
        .iter()
        .map(|u| {
            PreconditionViolation::new(
                "TOKEN_IN_USE",
                format!("dataSources/{}", u.data_source_id),
                format!(
                    "data source {:?} of account {} uses the token{}; set force to delete it anyway",
                    u.data_source_name,
                    u.account_id,
                    if u.is_master() { "" } else { " through a grant" }
                ),
            )
        })
        .collect();
    ApiError::FailedPrecondition(violations)
}
