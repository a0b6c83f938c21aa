//! Fetching a data source's resolved request over HTTP: credentials applied, connect and
//! total timeouts, a response size cap enforced while streaming, the SSRF guard
//! ([`guard`]), the body parsed as JSON or CSV within bounds ([`parse`]), and a 429's
//! Retry-After read without trusting it ([`retry_after`]). Error messages never contain a
//! secret: URLs are left out of client errors and every secret of the request is redacted
//! from whatever message is kept.

mod bounded;
pub mod guard;
pub mod parse;
pub mod retry_after;
mod secrets;
pub mod wire_size;

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::parse::Bounds;
use self::retry_after::RetryAfter;
pub use self::secrets::redact;
use self::secrets::same_destination;
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

/// How a request authenticates, with the secret the token registry gave.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Bearer(String),
    Basic { username: String, password: String },
    ApiKeyHeader { name: String, key: String },
    ApiKeyQuery { name: String, key: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        let kind = match self {
            Credentials::None => "None",
            Credentials::Bearer(_) => "Bearer(..)",
            Credentials::Basic { .. } => "Basic(..)",
            Credentials::ApiKeyHeader { .. } => "ApiKeyHeader(..)",
            Credentials::ApiKeyQuery { .. } => "ApiKeyQuery(..)",
        };
        f.write_str(kind)
    }
}

impl Credentials {
    fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::None => vec![],
            Credentials::Bearer(token) => vec![token],
            Credentials::Basic { password, .. } => vec![password],
            Credentials::ApiKeyHeader { key, .. } | Credentials::ApiKeyQuery { key, .. } => {
                vec![key]
            }
        }
    }
}

/// A parsed response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub format: DataFormat,
    pub data: Value,
    /// SHA-256 of the body, hex.
    pub content_hash: String,
    pub size_bytes: i64,
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
    /// HTTP 401 to a bearer token: the access token may have been revoked or rotated.
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
        })
    }

    /// Sends `request` with `credentials` and parses the answer.
    pub async fn fetch(&self, request: &HttpRequest, credentials: &Credentials) -> FetchOutcome {
        let outcome = self.fetch_inner(request, credentials).await;
        match outcome {
            FetchOutcome::Failed(message) => {
                FetchOutcome::Failed(redact(&message, &credentials.secrets()))
            }
            other => other,
        }
    }

    async fn fetch_inner(&self, request: &HttpRequest, credentials: &Credentials) -> FetchOutcome {
        let builder = match self.request(request, credentials) {
            Ok(builder) => builder,
            Err(message) => return FetchOutcome::Failed(message),
        };
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return FetchOutcome::Failed(self.describe(error)),
        };
        if let Some(refused) = self.refusal(&response, credentials) {
            return refused;
        }
        let body = match self.body(response).await {
            Ok(body) => body,
            Err(message) => return FetchOutcome::Failed(message),
        };
        match parse::parse(request.format, &body, &self.bounds) {
            Ok(data) => FetchOutcome::Fetched(Body {
                format: request.format,
                data,
                content_hash: hex::encode(Sha256::digest(&body)),
                size_bytes: body.len() as i64,
            }),
            Err(message) => FetchOutcome::Failed(message),
        }
    }

    /// The request to send: the destination checked, the credentials, headers and body in
    /// place, on the client that keeps them at their destination when they may be secret.
    fn request(
        &self,
        request: &HttpRequest,
        credentials: &Credentials,
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut url = match url::Url::parse(&request.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                return Err(format!("unsupported URL scheme `{}`", url.scheme()));
            }
            Err(error) => return Err(format!("invalid URL: {error}")),
        };
        if let Err(refused) = guard::check_literal(&url, self.allow_private) {
            return Err(refused.to_string());
        }
        if let Credentials::ApiKeyQuery { name, key } = credentials {
            url.query_pairs_mut().append_pair(name, key);
        }

        let auth_header = match credentials {
            Credentials::Bearer(_) | Credentials::Basic { .. } => Some(AUTHORIZATION),
            Credentials::ApiKeyHeader { name, .. } => HeaderName::from_bytes(name.as_bytes()).ok(),
            _ => None,
        };
        // Headers and a body are the data source author's too, and may carry a secret of
        // their own (an API key kept as a company property): they stay at the destination
        // as the credentials do.
        let client = match credentials {
            Credentials::None if request.headers.is_empty() && request.body.is_empty() => {
                &self.client
            }
            _ => &self.credentialed,
        };
        let mut builder = client.request(request.method.clone(), url);
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(format!("invalid header `{name}`"));
            };
            if auth_header.as_ref() == Some(&name) {
                continue;
            }
            builder = builder.header(name, value);
        }
        builder = match credentials {
            Credentials::None | Credentials::ApiKeyQuery { .. } => builder,
            Credentials::Bearer(token) => builder.bearer_auth(token),
            Credentials::Basic { username, password } => {
                builder.basic_auth(username, Some(password))
            }
            Credentials::ApiKeyHeader { name, key } => match HeaderValue::from_str(key) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder.header(name.as_str(), value)
                }
                Err(_) => {
                    return Err(format!(
                        "the API key for header `{name}` is not a valid header value"
                    ));
                }
            },
        };
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        Ok(builder)
    }

    /// What an answer that is not the data means: a 429 (with its wait), an expired access
    /// token, an error status, or a length past the cap. `None` for data to read.
    fn refusal(
        &self,
        response: &reqwest::Response,
        credentials: &Credentials,
    ) -> Option<FetchOutcome> {
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let header = response
                .headers()
                .get(RETRY_AFTER)
                .map(HeaderValue::as_bytes);
            let wait = match RetryAfter::read(header, chrono::Utc::now(), &credentials.secrets()) {
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
        if let Some(length) = response.content_length()
            && length > self.max_bytes
        {
            return Some(FetchOutcome::Failed(format!(
                "the response is larger than the limit of {} bytes ({length} bytes)",
                self.max_bytes
            )));
        }
        None
    }

    /// The body, read up to the cap. A body without a length (chunked, or endless) is cut off
    /// at the cap, and the client's total timeout bounds one that trickles.
    async fn body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, String> {
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(0).min(self.max_bytes) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                        return Err(format!(
                            "the response is larger than the limit of {} bytes",
                            self.max_bytes
                        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_their_secret() {
        let credentials = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
