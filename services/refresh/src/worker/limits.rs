//! The API limits of one fetch (F5): which limits apply, under which keys, and the gate
//! every page after the first passes.
//!
//! A fetch counts against every limit that applies to it: its OAuth token's own and its
//! provider's limit of the rate-limit key (`token:<id>`, `key:<provider>:<key>`), or, for a
//! source without a token, its data source's limit of the key, counted across the account's
//! family (`key:family:<account>:<key>`); its saved credential's, shared by the copies of
//! the credential (`credential:<limit key>`); and its host's, from
//! `TRELLIS_REFRESH_HOST_LIMITS` (`host:<host>`).

use std::sync::Mutex;
use std::time::Duration;

use trellis_proto::library::v1::data_source_auth::Method as AuthMethod;

use super::WorkerContext;
use super::prepare::{Auth, Prepared};
use crate::domain::limits::{
    ApiLimit, LimitSpec, credential_key, family_key, host_key, provider_key, specs_for, token_key,
};
use crate::fetch::{FetchOutcome, PageGate};
use crate::peers::convert;
use crate::store::limits::{PageSlot, take_page_slot};

/// The limits a fetch keeps to.
pub(super) struct FetchLimits {
    /// Every limit's specs, in key order (the order they are locked in).
    pub specs: Vec<LimitSpec>,
    /// The limit keys a 429 holds back: every key of the fetch.
    pub hold_back_keys: Vec<String>,
}

/// The limits of `leader`'s fetch; a failure of the token registry to say its token's.
pub(super) async fn fetch_limits(
    context: &WorkerContext,
    leader: &Prepared,
) -> Result<FetchLimits, tonic::Status> {
    let resolved = &leader.resolved;
    let rate_limit_key = resolved.rate_limit_key.as_str();
    let mut limits: Vec<(String, ApiLimit)> = Vec::new();
    // Held back after a 429 even when no limit is configured for them.
    let mut hold_back_keys = Vec::new();
    if let Auth::Token { token_id, .. } = &leader.auth {
        let token = context.peers.token_limits(token_id, rate_limit_key).await?;
        hold_back_keys.push(token_key(token_id));
        limits.extend(token.token_limit.map(|limit| (token_key(token_id), limit)));
        if !rate_limit_key.is_empty() {
            let key = provider_key(&token.provider_id, rate_limit_key);
            hold_back_keys.push(key.clone());
            limits.extend(token.rate_limit_key_limit.map(|limit| (key, limit)));
        }
    } else if !rate_limit_key.is_empty()
        && let Some(limit) = &resolved.rate_limit_key_limit
    {
        // The family root (a partner for its clients); the account itself when the library
        // does not say.
        let scope = match resolved.limit_scope_account_id.as_str() {
            "" => leader.job.account_id.to_string(),
            scope => scope.to_owned(),
        };
        limits.push((
            family_key(&scope, rate_limit_key),
            convert::source_limit(limit),
        ));
    }
    if let Some((limit_key, limit)) = &leader.credential_limit {
        let credential_id = match resolved.auth.as_ref().and_then(|a| a.method.as_ref()) {
            Some(AuthMethod::CredentialId(id)) => id.as_str(),
            _ => "",
        };
        let key = if limit_key.is_empty() {
            credential_id
        } else {
            limit_key
        };
        if !key.is_empty() {
            limits.push((credential_key(key), convert::api_limit(limit)));
        }
    }
    if let Some(host) = host_of(&leader.request.url)
        && let Some(limit) = context.settings.host_limits.of(&host)
    {
        limits.push((host_key(&host), limit.clone()));
    }
    let specs = specs_for(&limits, context.settings.limit_margin);
    hold_back_keys.extend(specs.iter().map(|s| s.key.clone()));
    hold_back_keys.sort();
    hold_back_keys.dedup();
    Ok(FetchLimits {
        specs,
        hold_back_keys,
    })
}

/// The host a URL names, lower-case, without its port; `None` when it names none.
fn host_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(url.host_str()?.to_ascii_lowercase())
}

/// The gate each page after the first passes: it takes the next slot of every rate of the
/// fetch (not a permit of its cap, which the fetch holds already), waiting for it when it
/// is at most `TRELLIS_REFRESH_MAX_PAGE_WAIT` away, and counts the time waited.
pub(super) struct LimitGate<'a> {
    context: &'a WorkerContext,
    specs: &'a [LimitSpec],
    waited: Mutex<Duration>,
}

impl<'a> LimitGate<'a> {
    pub(super) fn new(context: &'a WorkerContext, specs: &'a [LimitSpec]) -> Self {
        Self {
            context,
            specs,
            waited: Mutex::new(Duration::ZERO),
        }
    }

    /// The time pages waited for the limits so far.
    pub(super) fn waited(&self) -> Duration {
        *self
            .waited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the next page's slot; an error (the refresh fails with it) when the slot
    /// is further away than the setting allows or the database cannot be reached.
    async fn wait_for_slot(&self) -> Result<(), String> {
        if self.specs.iter().all(|s| s.emission_interval.is_none()) {
            return Ok(());
        }
        let max_wait = self.context.settings.max_page_wait;
        let slot = async {
            let mut conn = self.context.pool.get().await?;
            anyhow::Ok(take_page_slot(&mut conn, self.specs, max_wait).await?)
        };
        match slot.await {
            Ok(PageSlot::Taken { wait }) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                    let mut waited = self
                        .waited
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *waited = waited.saturating_add(wait);
                }
                Ok(())
            }
            Ok(PageSlot::TooFar { wait }) => Err(format!(
                "the API limits allow the next page only in {}, longer than the {} a page may wait \
                 (TRELLIS_REFRESH_MAX_PAGE_WAIT); the instance backs off",
                seconds(wait),
                seconds(max_wait)
            )),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot take a page's API-limit slot"
                );
                Err(
                    "the API limits of the next page could not be read; the instance backs off"
                        .into(),
                )
            }
        }
    }
}

impl PageGate for LimitGate<'_> {
    async fn before_page(&self, _page: u32) -> Result<(), FetchOutcome> {
        self.wait_for_slot().await.map_err(FetchOutcome::Failed)
    }
}

/// A wait in words: `1.5s`.
fn seconds(wait: Duration) -> String {
    format!("{:.1}s", wait.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_read_lower_case_without_its_port() {
        assert_eq!(
            host_of("https://API.Example.com:8443/v1?x=1").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(
            host_of("http://127.0.0.1:9/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("http://[::1]:9/x").as_deref(), Some("[::1]"));
        assert_eq!(host_of("not a url"), None);
    }
}
