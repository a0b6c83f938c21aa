//! When a token hands out access tokens and when it needs a refresh first (I6, the
//! exactly-once refresh of docs/tokens.md), in plain values.

use std::time::Duration;

use chrono::{DateTime, Utc};
use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

use super::{TokenState, token_subject};

/// The longest lifetime an access token is credited with, whatever the provider's
/// `expires_in` says: a provider's answer never makes a date we cannot store or compute
/// with, and a token is refreshed at least this often.
pub const MAX_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What a refresh decision reads of a token's secrets.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    pub has_access_token: bool,
    pub generation: i64,
    pub expire_time: Option<DateTime<Utc>>,
}

/// Whether a token must be refreshed before it is handed out: it holds no access token,
/// the caller saw its current generation rejected, or it expires within `window`.
pub fn needs_refresh(window: Duration, secrets: Freshness, rejected_generation: i64) -> bool {
    if !secrets.has_access_token {
        return true;
    }
    if rejected_generation != 0 && rejected_generation >= secrets.generation {
        return true;
    }
    let Some(expire) = secrets.expire_time else {
        return false;
    };
    // A window too large to add to now covers every expiry.
    chrono::Duration::from_std(window)
        .ok()
        .and_then(|window| Utc::now().checked_add_signed(window))
        .is_none_or(|horizon| expire <= horizon)
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
pub fn usable(token_id: Uuid, status: TokenState, status_message: &str) -> ApiResult<()> {
    let why = match status {
        TokenState::Active => return Ok(()),
        TokenState::NeedsReauthorization => "it needs re-authorization",
        TokenState::InvalidatedByProvider => {
            "the provider invalidated it (too many tokens for its user); re-authorize it"
        }
        TokenState::Revoked => "it was revoked",
    };
    let detail = if status_message.is_empty() {
        why.to_owned()
    } else {
        format!("{why}: {status_message}")
    };
    Err(ApiError::precondition(
        "TOKEN_STATUS",
        token_subject(token_id),
        format!("the token is not usable: {detail}"),
    ))
}

pub fn needs_reauthorization(token_id: Uuid, why: &str) -> ApiError {
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
