//! Endpoints of the data API that issue tokens: a login endpoint (two-step authentication)
//! and an OAuth 2.0 client-credentials token endpoint (RFC 6749 section 4.4). The tokens
//! they issue are accepted by [`Auth::Issued`](super::Auth::Issued) until a test expires
//! them ([`DataApi::expire_issued`]), after which the API answers 401 to them.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{DataApi, Reply};

/// A login endpoint: a POST with the username and password (a JSON object, or a form) is
/// answered `{"data": {"token": "session-N", "expires_in": expires_in}}`; anything else 401.
#[derive(Debug, Clone)]
pub struct LoginEndpoint {
    pub username: String,
    pub password: String,
    /// The lifetime the answer states, in seconds.
    pub expires_in: u64,
}

/// A client-credentials token endpoint: a POST form with `grant_type=client_credentials`,
/// the client authenticated by HTTP basic (RFC 6749 section 2.3.1, each part form-encoded)
/// or by `client_id` and `client_secret` fields, answered
/// `{"access_token": "cc-N", "token_type": "Bearer", "expires_in": expires_in}`.
#[derive(Debug, Clone)]
pub struct ClientCredentialsEndpoint {
    pub client_id: String,
    pub client_secret: String,
    /// The `scope` the request must ask for, when set.
    pub scope: Option<String>,
    pub expires_in: u64,
}

#[derive(Debug, Clone)]
pub(super) enum Endpoint {
    Login(LoginEndpoint),
    ClientCredentials(ClientCredentialsEndpoint),
}

#[derive(Default)]
pub(super) struct Issuer {
    pub endpoints: HashMap<String, Endpoint>,
    /// Every token issued, and whether it is still valid.
    tokens: Vec<(String, bool)>,
}

impl Issuer {
    pub fn is_valid(&self, token: &str) -> bool {
        self.tokens.iter().any(|(t, valid)| t == token && *valid)
    }

    fn issue(&mut self, prefix: &str) -> String {
        let token = format!(
            "{prefix}-{}-{}",
            self.tokens.len() + 1,
            rand::random::<u32>()
        );
        self.tokens.push((token.clone(), true));
        token
    }

    /// The answer of the endpoint at a path, if one is served there.
    pub fn answer(&mut self, path: &str, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
        let endpoint = self.endpoints.get(path)?.clone();
        let fields = fields(headers, body);
        let field = |name: &str| fields.get(name).map(String::as_str);
        let reply = match endpoint {
            Endpoint::Login(login) => {
                if field("username") == Some(login.username.as_str())
                    && field("password") == Some(login.password.as_str())
                {
                    let token = self.issue("session");
                    Reply::json(serde_json::json!({
                        "data": {"token": token, "expires_in": login.expires_in}
                    }))
                } else {
                    error(401, "invalid_login")
                }
            }
            Endpoint::ClientCredentials(endpoint) => {
                let client = basic(headers).or_else(|| {
                    Some((
                        field("client_id")?.to_owned(),
                        field("client_secret")?.to_owned(),
                    ))
                });
                if field("grant_type") != Some("client_credentials") {
                    error(400, "unsupported_grant_type")
                } else if client
                    != Some((endpoint.client_id.clone(), endpoint.client_secret.clone()))
                {
                    error(401, "invalid_client")
                } else if endpoint.scope.is_some() && field("scope") != endpoint.scope.as_deref() {
                    error(400, "invalid_scope")
                } else {
                    let token = self.issue("cc");
                    Reply::json(serde_json::json!({
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_in": endpoint.expires_in,
                    }))
                }
            }
        };
        Some(super::serve::build(reply))
    }
}

fn error(status: u16, code: &str) -> Reply {
    let mut reply = Reply::json(serde_json::json!({ "error": code }));
    reply.status = status;
    reply
}

/// The fields of a JSON object body (strings as they are, other values as JSON), or of a
/// form.
fn fields(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
            return HashMap::new();
        };
        return fields
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(text) => (k, text),
                other => (k, other.to_string()),
            })
            .collect();
    }
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The client id and secret of an HTTP basic `Authorization`, each form-decoded.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| -> String {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

impl DataApi {
    /// Serves a login endpoint at `path` (any global [`Auth`](super::Auth) does not apply
    /// to it).
    pub fn serve_login(&self, path: &str, endpoint: LoginEndpoint) {
        self.issuer()
            .endpoints
            .insert(path.to_owned(), Endpoint::Login(endpoint));
    }

    /// Serves a client-credentials token endpoint at `path`.
    pub fn serve_client_credentials(&self, path: &str, endpoint: ClientCredentialsEndpoint) {
        self.issuer()
            .endpoints
            .insert(path.to_owned(), Endpoint::ClientCredentials(endpoint));
    }

    /// Every token issued so far stops being valid: the API answers 401 to it.
    pub fn expire_issued(&self) {
        for (_, valid) in &mut self.issuer().tokens {
            *valid = false;
        }
    }

    /// The tokens issued so far, in order.
    pub fn issued(&self) -> Vec<String> {
        self.issuer()
            .tokens
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }

    fn issuer(&self) -> std::sync::MutexGuard<'_, Issuer> {
        self.inner.issuer.lock().expect("issuer")
    }
}
