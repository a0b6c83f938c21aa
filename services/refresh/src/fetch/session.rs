//! Tokens a fetch obtains before its data request: a two-step credential's login, and an
//! OAuth 2.0 client-credentials grant (RFC 6749 section 4.4). Each is sent through the
//! client that keeps requests at their destination, through the SSRF guard, and its answer
//! read within [`MAX_TOKEN_ANSWER`] bytes. Tokens are kept in memory, per credential and
//! hash of its secret and settings, until they expire less a margin.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

use super::Fetcher;
use super::credentials::{ClientCredentials, Credentials, Login};
use super::pages::at_path;
use super::placeholders::render;

/// The largest answer of a login or token endpoint read.
pub const MAX_TOKEN_ANSWER: u64 = 64 * 1024;

/// The longest a token is kept, whatever its answer says.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// A token is dropped this long before it expires (at most a tenth of its lifetime), so
/// that a request never carries one that expires on the way.
const MARGIN: Duration = Duration::from_secs(30);

/// Tokens kept at most; past it the expired ones go, then all.
const MAX_KEPT: usize = 10_000;

/// The default login body.
pub const DEFAULT_LOGIN_BODY: &str = r#"{"username":"{username}","password":"{password}"}"#;

#[derive(Default)]
pub(super) struct Sessions {
    tokens: Mutex<HashMap<String, Kept>>,
}

struct Kept {
    token: String,
    until: Instant,
}

impl Sessions {
    /// A poisoned lock left nothing half-written (each use is one map operation).
    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> Option<String> {
        let tokens = self.tokens();
        let kept = tokens.get(key)?;
        (Instant::now() < kept.until).then(|| kept.token.clone())
    }

    fn keep(&self, key: &str, token: &str, lifetime: Duration) {
        let keep_for = lifetime
            .min(MAX_LIFETIME)
            .saturating_sub(MARGIN.min(lifetime / 10));
        if keep_for.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut tokens = self.tokens();
        if tokens.len() >= MAX_KEPT {
            tokens.retain(|_, kept| kept.until > now);
            if tokens.len() >= MAX_KEPT {
                tokens.clear();
            }
        }
        tokens.insert(
            key.to_owned(),
            Kept {
                token: token.to_owned(),
                until: now + keep_for,
            },
        );
    }

    /// Drops `token` (refused by the API), unless another fetch has replaced it already.
    fn forget(&self, key: &str, token: &str) {
        let mut tokens = self.tokens();
        if tokens.get(key).is_some_and(|kept| kept.token == token) {
            tokens.remove(key);
        }
    }
}

/// A token for one fetch.
pub(super) struct Session {
    pub token: String,
    /// Obtained by this fetch rather than kept from an earlier one.
    pub fresh: bool,
}

fn cache_key(credentials: &Credentials) -> Option<String> {
    match credentials {
        Credentials::Login(login) => Some(format!("login:{}", login.cache_key)),
        Credentials::ClientCredentials(flow) => Some(format!("client:{}", flow.cache_key)),
        _ => None,
    }
}

impl Fetcher {
    /// The token `credentials` send, for those that obtain one: the kept one, or (with
    /// `renew`, or none kept) a new one. `None` for credentials that need none.
    pub(super) async fn session(
        &self,
        credentials: &Credentials,
        renew: Option<&str>,
    ) -> Result<Option<Session>, String> {
        let Some(key) = cache_key(credentials) else {
            return Ok(None);
        };
        match renew {
            Some(refused) => self.sessions.forget(&key, refused),
            None => {
                if let Some(token) = self.sessions.get(&key) {
                    return Ok(Some(Session {
                        token,
                        fresh: false,
                    }));
                }
            }
        }
        let (token, lifetime) = match credentials {
            Credentials::Login(login) => self.log_in(login).await?,
            Credentials::ClientCredentials(flow) => self.client_credentials(flow).await?,
            _ => return Ok(None),
        };
        self.sessions.keep(&key, &token, lifetime);
        Ok(Some(Session { token, fresh: true }))
    }

    async fn log_in(&self, login: &Login) -> Result<(String, Duration), String> {
        let what = "logging in";
        let url = self
            .destination(&login.url)
            .map_err(|e| format!("{what}: {e}"))?;
        let content_type = login.content_type.to_ascii_lowercase();
        let escape = |text: &str| {
            if content_type.contains("json") {
                let quoted = Value::String(text.to_owned()).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            } else if content_type.contains("x-www-form-urlencoded") {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
            } else {
                text.to_owned()
            }
        };
        let body = render(&login.body, |name| match name {
            "username" => Some(escape(&login.username)),
            "password" => Some(escape(&login.password)),
            _ => None,
        });
        let request = self
            .credentialed
            .post(url)
            .header(CONTENT_TYPE, login.content_type.as_str())
            .header(ACCEPT, "application/json")
            .body(body);
        let answer = self
            .token_answer(request, what, "the credential's username and password")
            .await?;
        let token = text(&answer, &login.token_path)
            .ok_or_else(|| format!("{what}: the answer has no token at `{}`", login.token_path))?;
        let lifetime = if login.expires_in_path.is_empty() {
            None
        } else {
            seconds(at_path(&answer, &login.expires_in_path))
        };
        Ok((token, lifetime.unwrap_or(login.token_ttl)))
    }

    async fn client_credentials(
        &self,
        flow: &ClientCredentials,
    ) -> Result<(String, Duration), String> {
        let what = "getting a client-credentials token";
        let url = self
            .destination(&flow.token_url)
            .map_err(|e| format!("{what}: {e}"))?;
        // (The serializer is not `Send`: it is done with before the request is sent.)
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if !flow.scopes.is_empty() {
                form.append_pair("scope", &flow.scopes.join(" "));
            }
            if flow.credentials_in_body {
                form.append_pair("client_id", &flow.client_id);
                form.append_pair("client_secret", &flow.client_secret);
            }
            form.finish()
        };
        let mut request = self.credentialed.post(url);
        if !flow.credentials_in_body {
            // RFC 6749 section 2.3.1: each form-encoded, then basic authentication.
            let encode = |text: &str| -> String {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
            };
            request =
                request.basic_auth(encode(&flow.client_id), Some(encode(&flow.client_secret)));
        }
        let request = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body);
        let answer = self
            .token_answer(request, what, "the credential's client id and secret")
            .await?;
        if let Some(kind) = answer.get("token_type").and_then(Value::as_str)
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(format!(
                "{what}: the token endpoint issued a `{}` token, and only bearer tokens can be sent",
                kind.chars().take(20).collect::<String>()
            ));
        }
        let token = text(&answer, "access_token")
            .ok_or_else(|| format!("{what}: the answer has no `access_token`"))?;
        let lifetime = seconds(answer.get("expires_in")).unwrap_or(Duration::from_secs(3600));
        Ok((token, lifetime))
    }

    /// Sends a login or token request and reads its JSON answer.
    async fn token_answer(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
        check: &str,
    ) -> Result<Value, String> {
        let response = request
            .send()
            .await
            .map_err(|error| format!("{what}: {}", self.describe(error)))?;
        let status = response.status();
        if matches!(status.as_u16(), 400 | 401 | 403) {
            return Err(format!("{what}: HTTP {status} (check {check})"));
        }
        if !status.is_success() {
            return Err(format!("{what}: HTTP {status}"));
        }
        let body = self
            .body(response, MAX_TOKEN_ANSWER, |_| {
                format!("{what}: the answer is larger than {MAX_TOKEN_ANSWER} bytes")
            })
            .await?;
        serde_json::from_slice(&body).map_err(|_| format!("{what}: the answer is not JSON"))
    }
}

/// A non-empty string (or a number) at `path`.
fn text(answer: &Value, path: &str) -> Option<String> {
    match at_path(answer, path)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A lifetime in seconds, written as a number or a numeric string.
fn seconds(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_until_they_expire_less_a_margin() {
        let sessions = Sessions::default();
        sessions.keep("a", "t1", Duration::from_secs(3600));
        assert_eq!(sessions.get("a").as_deref(), Some("t1"));
        // Another token replaced it: forgetting the old one keeps the new one.
        sessions.keep("a", "t2", Duration::from_secs(3600));
        sessions.forget("a", "t1");
        assert_eq!(sessions.get("a").as_deref(), Some("t2"));
        sessions.forget("a", "t2");
        assert_eq!(sessions.get("a"), None);
        // A token that expires at once is used once and not kept.
        sessions.keep("b", "t", Duration::ZERO);
        assert_eq!(sessions.get("b"), None);
    }

    #[test]
    fn lifetimes_are_numbers_or_numeric_strings() {
        assert_eq!(
            seconds(Some(&serde_json::json!(90))),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            seconds(Some(&serde_json::json!("1.5"))),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(seconds(Some(&serde_json::json!(-1))), None);
        assert_eq!(seconds(Some(&serde_json::json!("soon"))), None);
        assert_eq!(seconds(Some(&serde_json::json!(1e300))), Some(MAX_LIFETIME));
        assert_eq!(seconds(None), None);
    }
}
