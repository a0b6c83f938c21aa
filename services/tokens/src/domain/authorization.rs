//! The authorization code flow with PKCE (T1, I6, T2).
//!
//! Begin stores a pending authorization under the SHA-256 of a fresh random state, with the
//! PKCE verifier sealed, bound to the account, the provider and (to re-authorize) the token.
//! Complete takes it out in its own transaction, so a state is used once even if the code
//! exchange then fails; exchanges the code over HTTP outside any transaction; learns the
//! external user; and stores the token, counting it against the provider's limit (T2), in a
//! second transaction that also records the answer under the request id.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use sha2::{Digest, Sha256};
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_platform::idempotency;
use trellis_proto::tokens::v1::{CompleteAuthorizationResponse, TokenWarning, TokenWarningKind};
use uuid::Uuid;

use super::access::expire_time;
use super::caps;
use super::usage::UsageFinder;
use super::{client_secret, columns, open, seal};
use crate::convert;
use crate::crypto::Keyring;
use crate::oauth::{OAuthClient, ProviderError};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::store::authorizations::{self, PendingRow};
use crate::store::providers::{self, ProviderRow};
use crate::store::tokens::{self as token_store, SecretsRow, TokenRow};
use crate::store::{TxError, grants};

pub const COMPLETE_METHOD: &str = "CompleteAuthorization";

#[derive(Clone)]
pub struct Authorizations {
    pub pool: DbPool,
    pub keyring: Keyring,
    pub oauth: OAuthClient,
    pub settings: Settings,
    pub usage: UsageFinder,
}

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
    pub scope: &'a str,
    pub request_id: &'a str,
    pub state: &'a str,
    pub code: &'a str,
    pub error: &'a str,
}

fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

impl Authorizations {
    /// The redirect URI to use: the request's, checked against the allowed prefixes, or
    /// the configured default.
    pub fn redirect_uri(&self, requested: &str) -> ApiResult<String> {
        let uri = if requested.is_empty() {
            self.settings.default_redirect_uri.clone().ok_or_else(|| {
                ApiError::invalid(
                    "redirect_uri",
                    "required (no default redirect URI is configured)",
                )
            })?
        } else {
            requested.to_owned()
        };
        let parsed = url::Url::parse(&uri)
            .map_err(|_| ApiError::invalid("redirect_uri", "must be an absolute URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
            return Err(ApiError::invalid(
                "redirect_uri",
                "must be an http(s) URL without a fragment",
            ));
        }
        let allowed = &self.settings.allowed_redirect_uris;
        if !allowed.is_empty()
            && !allowed
                .iter()
                .any(|prefix| uri.starts_with(prefix.as_str()))
        {
            return Err(ApiError::invalid(
                "redirect_uri",
                "is not among the redirect URIs this service allows (TRELLIS_TOKENS_REDIRECT_URIS)",
            ));
        }
        Ok(uri)
    }

    /// Stores a pending authorization and returns where to send the user. Runs in the
    /// caller's transaction.
    pub async fn begin(
        &self,
        conn: &mut AsyncPgConnection,
        input: BeginInput,
    ) -> Result<Begun, TxError> {
        let redirect_uri = self.redirect_uri(&input.redirect_uri)?;
        let provider_id = match input.token_id {
            Some(token_id) => {
                let stored = token_store::get(conn, token_id)
                    .await
                    .map_err(|e| not_found_as(e, "token", token_id))?;
                if stored.token.account_id != input.account_id {
                    return Err(ApiError::not_found("token", token_id).into());
                }
                if let Some(requested) = input.provider_id
                    && requested != stored.token.provider_id
                {
                    return Err(ApiError::invalid(
                        "provider_id",
                        "differs from the provider of the token being re-authorized",
                    )
                    .into());
                }
                stored.token.provider_id
            }
            None => input
                .provider_id
                .ok_or_else(|| ApiError::invalid("provider_id", "required for a new token"))?,
        };
        let provider = providers::get(conn, provider_id)
            .await
            .map_err(|e| not_found_as(e, "provider", provider_id))?;
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
        authorizations::insert(
            conn,
            &PendingRow {
                pkce_verifier: seal(
                    &self.keyring,
                    &start.pkce_verifier,
                    columns::PKCE_VERIFIER,
                    &hex(&hash),
                ),
                state_hash: hash,
                account_id: input.account_id,
                provider_id,
                token_id: input.token_id,
                display_name: input.display_name,
                redirect_uri,
                expire_time,
                create_time: now,
            },
        )
        .await?;
        Ok(Begun {
            authorization_url: start.url.to_string(),
            state: start.state,
            expire_time,
        })
    }

    pub async fn complete(
        &self,
        input: CompleteInput<'_>,
    ) -> ApiResult<CompleteAuthorizationResponse> {
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
        let mut conn = self.pool.get().await.map_err(StoreError::from)?;
        let hash = state_hash(input.state);

        // Take the pending authorization: from here on the state is used up.
        enum Taken {
            Replayed(CompleteAuthorizationResponse),
            Pending(PendingRow),
        }
        let taken = conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(response) =
                    idempotency::replay(conn, input.scope, COMPLETE_METHOD, input.request_id)
                        .await?
                {
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
                    )
                    .into());
                }
                Ok(Taken::Pending(pending))
            })
            .await?;
        let pending = match taken {
            Taken::Replayed(response) => return Ok(response),
            Taken::Pending(pending) => pending,
        };
        if pending.expire_time < Utc::now() {
            return Err(unknown_state());
        }
        if !input.error.is_empty() {
            return Err(ApiError::precondition(
                "AUTHORIZATION_DENIED",
                "error",
                format!(
                    "the provider redirected with error {:?}; begin the authorization again",
                    input.error.chars().take(100).collect::<String>()
                ),
            ));
        }

        let provider = {
            let provider_id = pending.provider_id;
            providers::get(&mut conn, provider_id)
                .await
                .map_err(|e| ApiError::from(not_found_as(e, "provider", provider_id)))?
        };
        let verifier = open(
            &self.keyring,
            &pending.pkce_verifier,
            columns::PKCE_VERIFIER,
            &hex(&pending.state_hash),
        )?;
        let secret = client_secret(&self.keyring, &provider)?;
        let issued = self
            .oauth
            .exchange_code(
                &provider,
                secret.as_ref(),
                &pending.redirect_uri,
                input.code,
                &verifier,
            )
            .await
            .map_err(|error| exchange_failure(&provider, error))?;
        let user = self
            .oauth
            .external_user(&provider, &issued)
            .await
            .map_err(|error| exchange_failure(&provider, error))?;

        let requested = &provider.scopes;
        let granted: Vec<String> = issued.scopes.clone().unwrap_or_else(|| requested.clone());
        let mut warnings = Vec::new();
        let missing: Vec<&String> = requested.iter().filter(|s| !granted.contains(s)).collect();
        if !missing.is_empty() {
            warnings.push(TokenWarning {
                kind: TokenWarningKind::ScopesReduced as i32,
                message: format!(
                    "the provider did not grant {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                token_count: 0,
                token_limit: 0,
            });
        }

        let response = conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(response) =
                    idempotency::replay(conn, input.scope, COMPLETE_METHOD, input.request_id).await?
                {
                    return Ok(response);
                }
                let token_id = pending.token_id.unwrap_or_else(Uuid::now_v7);
                let id = token_id.to_string();
                let access = seal(&self.keyring, &issued.access_token, columns::ACCESS_TOKEN, &id);
                let refresh = issued
                    .refresh_token
                    .as_ref()
                    .map(|r| seal(&self.keyring, r, columns::REFRESH_TOKEN, &id));
                let expire_time = expire_time(issued.expires_in);
                match pending.token_id {
                    Some(token_id) => {
                        // I6: the same id, new secrets: every data source and instance
                        // using the token uses them from now on.
                        let previous = token_store::get_for_update(conn, token_id)
                            .await
                            .map_err(|e| not_found_as(e, "token", token_id))?;
                        if previous.token.external_user_id != user.id {
                            warnings.push(TokenWarning {
                                kind: TokenWarningKind::ExternalUserChanged as i32,
                                message: format!(
                                    "re-authorized by another user of the provider ({}) than before; \
                                     every data source using the token may now see other data",
                                    if user.name.is_empty() { &user.id } else { &user.name }
                                ),
                                token_count: 0,
                                token_limit: 0,
                            });
                        }
                        token_store::reauthorize(
                            conn,
                            token_id,
                            token_store::Reauthorization {
                                external_user_id: &user.id,
                                external_user_name: &user.name,
                                scopes: &granted,
                                access_token: access,
                                refresh_token: refresh,
                                token_type: &issued.token_type,
                                expire_time,
                            },
                        )
                        .await?;
                    }
                    None => {
                        let now = Utc::now();
                        let display_name = if !pending.display_name.is_empty() {
                            pending.display_name.clone()
                        } else if !user.name.is_empty() {
                            format!("{} ({})", provider.name, user.name)
                        } else {
                            provider.name.clone()
                        };
                        token_store::insert(
                            conn,
                            &TokenRow {
                                id: token_id,
                                account_id: pending.account_id,
                                provider_id: provider.id,
                                display_name,
                                external_user_id: user.id.clone(),
                                external_user_name: user.name.clone(),
                                scopes: granted.clone(),
                                status: token_store::ACTIVE.to_owned(),
                                status_message: String::new(),
                                authorize_time: now,
                                version: 1,
                                create_time: now,
                                update_time: now,
                            },
                            &SecretsRow {
                                token_id,
                                access_token: Some(access),
                                refresh_token: refresh,
                                token_type: issued.token_type.clone(),
                                expire_time,
                                generation: 1,
                                last_refresh_time: None,
                            },
                        )
                        .await?;
                    }
                }
                let cap = caps::count_issued(conn, &provider, &user.id, token_id).await?;
                warnings.extend(cap.warnings);

                // Only the caller's own tokens are named (and their uses listed).
                let mut invalidated_token_ids = Vec::new();
                let mut invalidated_token_uses = Vec::new();
                for victim in cap.invalidated {
                    let stored = token_store::get(conn, victim).await?;
                    if input.caller_account.is_some_and(|a| a != stored.token.account_id) {
                        continue;
                    }
                    invalidated_token_ids.push(victim.to_string());
                    let victim_grants = grants::of_token(conn, victim).await?;
                    match self
                        .usage
                        .uses(victim, stored.token.account_id, &victim_grants)
                        .await
                    {
                        Ok(uses) => invalidated_token_uses.extend(uses),
                        Err(error) => warnings.push(TokenWarning {
                            kind: TokenWarningKind::LimitExceeded as i32,
                            message: format!(
                                "the data sources using invalidated token {victim} are unknown \
                                 ({error}); ask GetTokenUsage later"
                            ),
                            token_count: 0,
                            token_limit: provider.max_tokens_per_user,
                        }),
                    }
                }

                let stored = token_store::get(conn, token_id).await?;
                let response = CompleteAuthorizationResponse {
                    token: Some(convert::token(&stored)),
                    warnings: std::mem::take(&mut warnings),
                    invalidated_token_ids,
                    invalidated_token_uses,
                };
                idempotency::remember(conn, input.scope, COMPLETE_METHOD, input.request_id, &response)
                    .await?;
                Ok(response)
            })
            .await?;
        tracing::info!(
            token_id = response.token.as_ref().map(|t| t.id.as_str()).unwrap_or_default(),
            provider = %provider.name,
            "authorization completed"
        );
        Ok(response)
    }
}

fn unknown_state() -> ApiError {
    ApiError::precondition(
        "AUTHORIZATION_STATE",
        "state",
        "no pending authorization has this state: it is unknown, expired or already used; \
         begin the authorization again",
    )
}

fn exchange_failure(provider: &ProviderRow, error: ProviderError) -> ApiError {
    match error {
        ProviderError::Unreachable(_) => {
            ApiError::Unavailable(format!("could not complete the authorization: {error}"))
        }
        other => ApiError::precondition(
            "PROVIDER_REFUSED",
            format!("providers/{}", provider.id),
            format!("the authorization could not be completed: {other}; begin it again"),
        ),
    }
}

/// A row that is not there, named.
pub fn not_found_as(error: StoreError, resource: &'static str, id: Uuid) -> TxError {
    match error {
        StoreError::NotFound => ApiError::not_found(resource, id).into(),
        other => other.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
