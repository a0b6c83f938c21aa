//! BeginAuthorization and CompleteAuthorization: the code flow with PKCE (T1, I6, T2).
//!
//! Begin stores a pending authorization under the SHA-256 of a fresh random state, with the
//! PKCE verifier sealed, bound to the account, the provider and (to re-authorize) the token.
//! Complete takes it out in its own transaction, so a state is used once even if the code
//! exchange then fails; exchanges the code over HTTP outside any transaction; learns the
//! external user; and stores the token, counting it against the provider's limit (T2), in a
//! second transaction that also records the answer under the request id.

mod completion;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use prost::Message;
use trellis_platform::error::StoreResultExt;
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::App;
use crate::domain::authorization::{
    self as rules, denied, exchange_failure, hex, state_hash, unknown_state,
};
use crate::domain::usage::TokenUse;
use crate::domain::{Warning, client_secret, columns, open, seal};
use crate::peers::oauth::{ExternalUser, IssuedToken, OAuthClient};
use crate::secret::Secret;
use crate::store::authorizations::{self, PendingRow};
use crate::store::providers::{self, ProviderRow};
use crate::store::tokens::{self as token_store, StoredToken};
use trellis_platform::db::transaction;
use trellis_platform::replay;
use trellis_platform::replay::RequestKey;

#[derive(Debug)]
pub struct BeginInput {
    pub account_id: Uuid,
    pub provider_id: Option<Uuid>,
    pub redirect_uri: String,
    pub display_name: String,
    pub token_id: Option<Uuid>,
}

#[derive(Debug)]
pub struct Begun {
    pub authorization_url: String,
    pub state: Secret,
    pub expire_time: DateTime<Utc>,
}

#[derive(Debug)]
pub struct CompleteInput<'a> {
    /// The caller's account, or None for a service caller (which may complete any).
    pub caller_account: Option<Uuid>,
    pub state: &'a str,
    pub code: &'a str,
    pub error: &'a str,
}

/// A completed authorization: the token stored, and what the caller learns with it.
#[derive(Debug)]
pub struct Completed {
    pub token: StoredToken,
    pub warnings: Vec<Warning>,
    /// The caller's own tokens that the provider invalidated for this one (T2).
    pub invalidated_token_ids: Vec<Uuid>,
    pub invalidated_token_uses: Vec<TokenUse>,
}

/// What the code exchange brought: the provider, its tokens and its user.
struct Exchanged {
    provider: ProviderRow,
    issued: IssuedToken,
    user: ExternalUser,
}

impl App {
    /// The redirect URI to use: the request's, checked against the allowed prefixes, or
    /// the configured default.
    pub fn redirect_uri(&self, requested: &str) -> ApiResult<String> {
        rules::redirect_uri(
            requested,
            self.settings.default_redirect_uri.as_deref(),
            &self.settings.allowed_redirect_uris,
        )
    }

    /// Stores a pending authorization and returns where to send the user. Runs in the
    /// caller's transaction.
    pub async fn begin_authorization(
        &self,
        conn: &mut AsyncPgConnection,
        input: BeginInput,
    ) -> ApiResult<Begun> {
        let redirect_uri = self.redirect_uri(&input.redirect_uri)?;
        let provider_id = provider_to_authorize(conn, &input).await?;
        let provider = providers::get(conn, provider_id)
            .await
            .about("provider", provider_id)?;
        self.check_authorizable(&provider, input.account_id).await?;
        let start = OAuthClient::authorization_url(&provider, &redirect_uri).map_err(|error| {
            ApiError::precondition(
                "PROVIDER_CONFIGURATION",
                format!("providers/{provider_id}"),
                format!("the provider's URLs do not make an authorization URL: {error}"),
            )
        })?;
        let now = Utc::now();
        authorizations::purge_expired(conn, now).await?;
        let hash = state_hash(start.state.expose());
        let expire_time = now
            + chrono::Duration::from_std(self.settings.authorization_ttl())
                .unwrap_or(chrono::Duration::minutes(10));
        let pkce_verifier = seal(
            &self.keyring,
            &start.pkce_verifier,
            columns::PKCE_VERIFIER,
            &hex(&hash),
        );
        let pending = PendingRow {
            pkce_verifier,
            state_hash: hash,
            account_id: input.account_id,
            provider_id,
            token_id: input.token_id,
            display_name: input.display_name,
            redirect_uri,
            expire_time,
            create_time: now,
        };
        authorizations::insert(conn, &pending).await?;
        Ok(Begun {
            authorization_url: start.url.to_string(),
            state: start.state,
            expire_time,
        })
    }

    /// Completes an authorization; `answer` makes the response recorded under `key`.
    pub async fn complete_authorization<R: Message + Default>(
        &self,
        key: &RequestKey<'_>,
        input: CompleteInput<'_>,
        answer: impl FnOnce(Completed) -> R,
    ) -> ApiResult<R> {
        if input.state.is_empty() {
            return Err(ApiError::invalid(
                "state",
                "required: the `state` of the redirect",
            ));
        }
        if input.code.is_empty() && input.error.is_empty() {
            return Err(ApiError::invalid(
                "code",
                "required: the `code` of the redirect",
            ));
        }
        let mut conn = self.conn().await?;
        // Take the pending authorization: from here on the state is used up.
        let pending = match take_pending(&mut conn, key, &input).await? {
            Taken::Replayed(response) => return Ok(response),
            Taken::Pending(pending) => pending,
        };
        if pending.expire_time < Utc::now() {
            return Err(unknown_state());
        }
        if !input.error.is_empty() {
            return Err(denied(input.error));
        }
        let exchanged = self.exchange(&mut conn, &pending, input.code).await?;
        let provider_name = exchanged.provider.name.clone();
        let mut stored = None;
        let response = replay::write_on(&mut conn, key, async |conn| {
            let completed = self
                .store_token(conn, &pending, exchanged, input.caller_account)
                .await?;
            stored = Some(completed.token.token.id);
            Ok(answer(completed))
        })
        .await?;
        if let Some(token_id) = stored {
            tracing::info!(token_id = %token_id, provider = %provider_name, "authorization completed");
        }
        Ok(response)
    }

    /// Exchanges the code for tokens at the provider and learns their user, outside any
    /// transaction.
    async fn exchange(
        &self,
        conn: &mut AsyncPgConnection,
        pending: &PendingRow,
        code: &str,
    ) -> ApiResult<Exchanged> {
        let provider_id = pending.provider_id;
        let provider = providers::get(conn, provider_id)
            .await
            .about("provider", provider_id)?;
        let verifier = open(
            &self.keyring,
            &pending.pkce_verifier,
            columns::PKCE_VERIFIER,
            &hex(&pending.state_hash),
        )?;
        let secret = client_secret(
            &self.keyring,
            provider_id,
            provider.client_secret.as_deref(),
        )?;
        let issued = self
            .oauth
            .exchange_code(
                &provider,
                secret.as_ref(),
                &pending.redirect_uri,
                code,
                &verifier,
            )
            .await
            .map_err(|error| exchange_failure(provider_id, error))?;
        let user = self
            .oauth
            .external_user(&provider, &issued)
            .await
            .map_err(|error| exchange_failure(provider_id, error))?;
        Ok(Exchanged {
            provider,
            issued,
            user,
        })
    }
}

/// The provider a begun authorization is for: the re-authorized token's, or the requested.
async fn provider_to_authorize(
    conn: &mut AsyncPgConnection,
    input: &BeginInput,
) -> ApiResult<Uuid> {
    let Some(token_id) = input.token_id else {
        return input
            .provider_id
            .ok_or_else(|| ApiError::invalid("provider_id", "required for a new token"));
    };
    let stored = token_store::get(conn, token_id)
        .await
        .about("token", token_id)?;
    if stored.token.account_id != input.account_id {
        return Err(ApiError::not_found("token", token_id));
    }
    if let Some(requested) = input.provider_id
        && requested != stored.token.provider_id
    {
        return Err(ApiError::invalid(
            "provider_id",
            "differs from the provider of the token being re-authorized",
        ));
    }
    Ok(stored.token.provider_id)
}

enum Taken<R> {
    Replayed(R),
    Pending(PendingRow),
}

/// The answer already given under `key`, or the pending authorization of the state, taken
/// out in a transaction of its own.
async fn take_pending<R: Message + Default>(
    conn: &mut AsyncPgConnection,
    key: &RequestKey<'_>,
    input: &CompleteInput<'_>,
) -> ApiResult<Taken<R>> {
    let hash = state_hash(input.state);
    transaction::<_, ApiError, _>(conn, async |conn| {
        if let Some(response) = key.replay(conn).await? {
            return Ok(Taken::Replayed(response));
        }
        let pending = authorizations::take(conn, &hash)
            .await?
            .ok_or_else(unknown_state)?;
        if let Some(account) = input.caller_account
            && account != pending.account_id
        {
            // Rolls back: the state stays for its own account.
            return Err(ApiError::PermissionDenied(
                "the authorization was begun for another account".into(),
            ));
        }
        Ok(Taken::Pending(pending))
    })
    .await
}
