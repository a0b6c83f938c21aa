//! The rules of the authorization code flow with PKCE (T1, I6): which redirect URIs are
//! allowed, how a state is kept, what a completion warns of, and how its failures read.

use sha2::{Digest, Sha256};
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::{Warning, WarningKind};
use crate::peers::oauth::{ExternalUser, ProviderError};

/// The redirect URI to use: `requested`, checked against the `allowed` prefixes (none
/// allows any http(s) URL), or the configured `default` when none is requested.
pub fn redirect_uri(
    requested: &str,
    default: Option<&str>,
    allowed: &[String],
) -> ApiResult<String> {
    let uri = if requested.is_empty() {
        default.map(str::to_owned).ok_or_else(|| {
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

/// A state is stored only as its SHA-256.
pub fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token's name: the one asked for, else the provider's with the user's.
pub fn display_name(requested: &str, provider_name: &str, user: &ExternalUser) -> String {
    if !requested.is_empty() {
        requested.to_owned()
    } else if !user.name.is_empty() {
        format!("{provider_name} ({})", user.name)
    } else {
        provider_name.to_owned()
    }
}

/// The warning that the provider granted fewer scopes than `requested`, if it did.
pub fn scopes_reduced(requested: &[String], granted: &[String]) -> Option<Warning> {
    let missing: Vec<&str> = requested
        .iter()
        .filter(|s| !granted.contains(s))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| {
        Warning::new(
            WarningKind::ScopesReduced,
            format!("the provider did not grant {}", missing.join(", ")),
        )
    })
}

/// The warning that another user of the provider re-authorized a token than before.
pub fn user_changed(user: &ExternalUser) -> Warning {
    Warning::new(
        WarningKind::ExternalUserChanged,
        format!(
            "re-authorized by another user of the provider ({}) than before; every data \
             source using the token may now see other data",
            if user.name.is_empty() {
                &user.id
            } else {
                &user.name
            }
        ),
    )
}

/// The warning that the uses of an invalidated token could not be learned.
pub fn uses_unknown(victim: Uuid, error: &ApiError, token_limit: i32) -> Warning {
    Warning {
        kind: WarningKind::LimitExceeded,
        message: format!(
            "the data sources using invalidated token {victim} are unknown ({error}); ask \
             GetTokenUsage later"
        ),
        token_count: 0,
        token_limit,
    }
}

pub fn unknown_state() -> ApiError {
    ApiError::precondition(
        "AUTHORIZATION_STATE",
        "state",
        "no pending authorization has this state: it is unknown, expired or already used; \
         begin the authorization again",
    )
}

/// The provider redirected with `error` instead of a code.
pub fn denied(error: &str) -> ApiError {
    ApiError::precondition(
        "AUTHORIZATION_DENIED",
        "error",
        format!(
            "the provider redirected with error {:?}; begin the authorization again",
            error.chars().take(100).collect::<String>()
        ),
    )
}

pub fn exchange_failure(provider_id: Uuid, error: ProviderError) -> ApiError {
    match error {
        ProviderError::Unreachable(_) => {
            ApiError::Unavailable(format!("could not complete the authorization: {error}"))
        }
        other => ApiError::precondition(
            "PROVIDER_REFUSED",
            format!("providers/{provider_id}"),
            format!("the authorization could not be completed: {other}; begin it again"),
        ),
    }
}
