//! Fetching a data source's resolved request over HTTP: credentials applied (a login or a
//! client-credentials token obtained and cached first, a signature per request), the pages
//! of a paginated API followed and combined ([`pages`], fetched by `run`), connect and
//! total timeouts, a response size cap over every page enforced while streaming, the SSRF
//! guard ([`guard`]), the body parsed as JSON or CSV within bounds ([`parse`]), and a 429's
//! Retry-After read without trusting it ([`retry_after`]). Error messages never contain a
//! secret: URLs are left out of client errors and every secret of the request (and every
//! token or signature made while fetching) is redacted from whatever message is kept.

mod bounded;
pub mod convert;
mod credentials;
pub mod guard;
pub mod pages;
pub mod parse;
mod placeholders;
pub mod retry_after;
mod run;
mod secrets;
mod session;
pub mod sign;
pub mod wire_size;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};
use serde_json::Value;

pub use self::credentials::{
    Algorithm, ClientCredentials, Credentials, Encoding, Login, OAuthToken, Placement, Signed,
    TimestampFormat,
};
pub use self::pages::{Paging, Style};
use self::parse::Bounds;
use self::retry_after::RetryAfter;
pub use self::secrets::redact;
use self::secrets::same_destination;
pub use self::session::MAX_TOKEN_ANSWER;
use crate::domain::job::DataFormat;
use crate::settings::Settings;

/// The request of one data-source instance, resolved (I13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub format: DataFormat,
}

/// A parsed response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub format: DataFormat,
    pub data: Value,
    /// SHA-256 of the body (of every page's, one after the other), hex.
    pub content_hash: String,
    /// Response bytes read, over every page.
    pub size_bytes: i64,
    /// Pages fetched (1 without pagination).
    pub pages: u32,
    /// From the first request sent (a login's included) to the last page read.
    pub duration: Duration,
}

/// What a fetch asks before each page after the first: the API limits (F5) count every
/// page. A gate waits until the page may go, or ends the fetch.
pub trait PageGate {
    /// Waits until page `page` (2, 3, …) may be sent; `Err` ends the fetch with that
    /// outcome instead (a failure, or `RateLimited` to defer the job).
    fn before_page(&self, page: u32) -> impl Future<Output = Result<(), FetchOutcome>> + Send;
}

/// A gate that lets every page through at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGate;

impl PageGate for NoGate {
    async fn before_page(&self, _page: u32) -> Result<(), FetchOutcome> {
        Ok(())
    }
}

/// What a fetch came to.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    Fetched(Body),
    /// HTTP 429: the API wants no request before `retry_after` has passed (F5), clamped to
    /// `TRELLIS_REFRESH_MAX_RETRY_AFTER`.
    RateLimited {
        retry_after: Duration,
    },
    /// HTTP 429 with a Retry-After that is neither seconds nor a date, or negative (the
    /// value, shortened): counted as a failure so that the instance backs off (F8).
    RateLimitedUnreadable {
        retry_after: String,
    },
    /// HTTP 401 to an OAuth bearer token: the access token may have been revoked or
    /// rotated. (A login's or client-credentials token is renewed by the fetch itself.)
    Unauthorized,
    /// Anything else that went wrong, said without secrets.
    Failed(String),
}

/// The HTTP client of the workers.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// For requests that carry a secret, or headers and a body that may: it follows a
    /// redirect only to the same host and port, never from https to http, so nothing is sent
    /// anywhere but where the data source points (I14).
    credentialed: reqwest::Client,
    max_bytes: u64,
    bounds: Bounds,
    allow_private: bool,
    default_retry_after: Duration,
    max_retry_after: Duration,
    fetch_timeout: Duration,
    /// Tokens of logins and client-credentials grants, until they expire.
    sessions: Arc<session::Sessions>,
}

impl Fetcher {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let allow_private = settings.allow_private_networks;
        let client = |same_origin_only: bool| {
            reqwest::Client::builder()
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.fetch_timeout)
                // Proxies would hide the real destination from the guard.
                .no_proxy()
                .dns_resolver(std::sync::Arc::new(guard::GuardedResolver {
                    allow_private,
                }))
                .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= 5 {
                        return attempt.error("more than 5 redirects");
                    }
                    if same_origin_only
                        && let Some(first) = attempt.previous().first()
                        && let Err(refused) = same_destination(first, attempt.url())
                    {
                        return attempt.error(refused);
                    }
                    match guard::check_literal(attempt.url(), allow_private) {
                        Ok(()) => attempt.follow(),
                        Err(refused) => attempt.error(refused),
                    }
                }))
                .user_agent(concat!("trellis-refresh/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Ok(Self {
            client: client(false)?,
            credentialed: client(true)?,
            max_bytes: settings.max_response_bytes,
            bounds: settings.fetch_bounds(),
            allow_private,
            default_retry_after: settings.default_retry_after,
            max_retry_after: settings.max_retry_after,
            fetch_timeout: settings.fetch_timeout,
            sessions: Arc::new(session::Sessions::default()),
        })
    }

    /// Sends `request` with `credentials` and parses the answer: one page, no gate.
    pub async fn fetch(&self, request: &HttpRequest, credentials: &Credentials) -> FetchOutcome {
        self.fetch_pages(request, None, credentials, &NoGate).await
    }

    /// `text` as a URL a fetch may send to: http or https, and not a forbidden address
    /// literal (names are checked as they resolve).
    fn destination(&self, text: &str) -> Result<url::Url, String> {
        let url = match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                return Err(format!("unsupported URL scheme `{}`", url.scheme()));
            }
            Err(error) => return Err(format!("invalid URL: {error}")),
        };
        if let Err(refused) = guard::check_literal(&url, self.allow_private) {
            return Err(refused.to_string());
        }
        Ok(url)
    }

    /// What an answer that is not the data means: a 429 (with its wait), an expired access
    /// token, or an error status. `None` for data to read.
    fn refusal(
        &self,
        response: &reqwest::Response,
        credentials: &Credentials,
        secrets: &[&str],
    ) -> Option<FetchOutcome> {
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let header = response
                .headers()
                .get(RETRY_AFTER)
                .map(HeaderValue::as_bytes);
            let wait = match RetryAfter::read(header, chrono::Utc::now(), secrets) {
                RetryAfter::Absent => self.default_retry_after,
                RetryAfter::Wait(wait) => wait,
                RetryAfter::Unreadable(retry_after) => {
                    return Some(FetchOutcome::RateLimitedUnreadable { retry_after });
                }
            };
            return Some(FetchOutcome::RateLimited {
                retry_after: retry_after::clamp(wait, self.max_retry_after),
            });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED
            && matches!(credentials, Credentials::Bearer(_))
        {
            return Some(FetchOutcome::Unauthorized);
        }
        if !status.is_success() {
            return Some(FetchOutcome::Failed(format!("HTTP {status}")));
        }
        None
    }

    /// The body, read up to `limit` bytes (`too_large` says so past it). A body without a
    /// length (chunked, or endless) is cut off at the limit, and the client's total timeout
    /// bounds one that trickles.
    async fn body(
        &self,
        mut response: reqwest::Response,
        limit: u64,
        too_large: impl Fn(Option<u64>) -> String,
    ) -> Result<Vec<u8>, String> {
        if let Some(length) = response.content_length()
            && length > limit
        {
            return Err(too_large(Some(length)));
        }
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(0).min(limit) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        return Err(too_large(None));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(self.describe(error)),
            }
        }
        Ok(body)
    }

    /// A client error in words, without the URL (which may carry an API key).
    fn describe(&self, error: reqwest::Error) -> String {
        if let Some(refused) = guard::refusal_in(&error) {
            return refused.to_string();
        }
        if error.is_timeout() {
            return format!("timed out (the limit is {:?})", self.fetch_timeout);
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }
}
