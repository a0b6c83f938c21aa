//! A real OAuth 2.0 authorization server on loopback, for tests of the tokens and refresh
//! services.
//!
//! It speaks RFC 6749 over HTTP: `/authorize` approves at once for the configured external
//! user and redirects with `code` and `state`; `/token` exchanges codes (PKCE S256 checked)
//! and refresh tokens, with client authentication by HTTP basic or in the body, answering
//! JSON and RFC 6749 errors; refresh tokens are single-use and rotated on every refresh
//! (reusing one answers `invalid_grant`); access tokens expire after a configurable TTL.
//! `/revoke` (RFC 7009), `/userinfo` (the external user) and `/resource` (a protected
//! endpoint that answers 401 to an expired or unknown access token) complete it. Like
//! Google, it keeps a limited number of tokens per user when configured to, silently
//! dropping the oldest past it.
//!
//! Tests steer it with knobs (fail, delay or hold the next token requests, deny the next
//! authorization) and read its counters (codes exchanged, refreshes, revocations).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// How the server is set up; every field has a default.
#[derive(Debug, Clone)]
pub struct OAuthServerConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of access tokens (changeable later with
    /// [`OAuthServer::set_access_token_ttl`]).
    pub access_token_ttl: Duration,
    /// Tokens kept per user; one more drops the oldest. None keeps all.
    pub max_tokens_per_user: Option<usize>,
    /// Issue a new refresh token on every refresh and invalidate the old one.
    pub rotate_refresh_tokens: bool,
    /// Put an (unsigned) OpenID `id_token` with the user in token responses.
    pub issue_id_token: bool,
}

impl Default for OAuthServerConfig {
    fn default() -> Self {
        Self {
            client_id: "trellis-test-client".into(),
            client_secret: "trellis-test-client-secret".into(),
            access_token_ttl: Duration::from_secs(3600),
            max_tokens_per_user: None,
            rotate_refresh_tokens: true,
            issue_id_token: true,
        }
    }
}

/// What the server has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every request to `/token`.
    pub token_requests: u64,
    /// Authorization codes exchanged for tokens.
    pub codes_exchanged: u64,
    /// Successful refresh_token grants.
    pub refreshes: u64,
    /// refresh_token grants answered with an error.
    pub refused_refreshes: u64,
    /// Requests to `/revoke`.
    pub revocations: u64,
    /// Requests to `/resource`, answered or not.
    pub resource_requests: u64,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: (String, String),
    scope: String,
    issued: Instant,
}

struct AccessInfo {
    grant: u64,
    user: String,
    expires: Instant,
}

struct Grant {
    user: (String, String),
    scope: String,
    refresh_token: Option<String>,
    access_tokens: Vec<String>,
}

/// What the next token requests will meet, decided when each arrives.
#[derive(Default)]
struct TokenKnobs {
    fail: VecDeque<String>,
    delay: VecDeque<Duration>,
    hold: VecDeque<Arc<GateInner>>,
}

struct ServerState {
    config: OAuthServerConfig,
    user: (String, String),
    deny_next: Option<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, AccessInfo>,
    refresh: HashMap<String, u64>,
    grants: HashMap<u64, Grant>,
    by_user: HashMap<String, VecDeque<u64>>,
    next_grant: u64,
    knobs: TokenKnobs,
    counters: Counters,
    used_refresh: Vec<String>,
    resource_body: serde_json::Value,
}

type Shared = Arc<Mutex<ServerState>>;

struct GateInner {
    held: Mutex<usize>,
    open: watch::Sender<bool>,
}

/// Holds token requests until released; see [`OAuthServer::hold_next_token_requests`].
#[derive(Clone)]
pub struct TokenGate {
    inner: Arc<GateInner>,
}

impl TokenGate {
    /// Requests waiting at the gate now.
    pub fn held(&self) -> usize {
        *self.inner.held.lock().expect("gate")
    }

    /// Waits until `count` requests wait at the gate.
    pub async fn wait_until_held(&self, count: usize) {
        crate::eventually(
            "token requests held at the gate",
            Duration::from_secs(20),
            || async { (self.held() >= count).then_some(()) },
        )
        .await
    }

    /// Lets every held (and later) request through.
    pub fn release(&self) {
        let _ = self.inner.open.send(true);
    }
}

/// A running server; stops when dropped.
pub struct OAuthServer {
    pub address: SocketAddr,
    state: Shared,
    _shutdown: oneshot::Sender<()>,
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}-{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl OAuthServer {
    pub async fn start(config: OAuthServerConfig) -> Self {
        let state = Arc::new(Mutex::new(ServerState {
            config,
            user: ("external-user-1".into(), "user1@example.test".into()),
            deny_next: None,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            grants: HashMap::new(),
            by_user: HashMap::new(),
            next_grant: 1,
            knobs: TokenKnobs::default(),
            counters: Counters::default(),
            used_refresh: Vec::new(),
            resource_body: json!({"rows": [[1, 2], [3, 4]]}),
        }));
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/userinfo", get(userinfo))
            .route("/resource", get(resource))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            state,
            _shutdown: shutdown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ServerState> {
        self.state.lock().expect("oauth server state")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
    pub fn authorization_url(&self) -> String {
        format!("{}/authorize", self.url())
    }
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }
    pub fn revocation_url(&self) -> String {
        format!("{}/revoke", self.url())
    }
    pub fn userinfo_url(&self) -> String {
        format!("{}/userinfo", self.url())
    }
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.url())
    }
    pub fn client_id(&self) -> String {
        self.lock().config.client_id.clone()
    }
    pub fn client_secret(&self) -> String {
        self.lock().config.client_secret.clone()
    }

    /// The external user that the next authorizations approve for.
    pub fn set_user(&self, id: &str, name: &str) {
        self.lock().user = (id.to_owned(), name.to_owned());
    }

    /// The lifetime of access tokens issued from now on (zero: born expired).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.lock().config.access_token_ttl = ttl;
    }

    /// What `/resource` answers to a valid token.
    pub fn set_resource_body(&self, body: serde_json::Value) {
        self.lock().resource_body = body;
    }

    /// The next `count` token requests answer the RFC 6749 `error` (e.g. `invalid_grant`;
    /// `server_error` and `temporarily_unavailable` answer 5xx).
    pub fn fail_next_token_requests(&self, count: usize, error: &str) {
        let mut state = self.lock();
        for _ in 0..count {
            state.knobs.fail.push_back(error.to_owned());
        }
    }

    /// The next `count` token requests are answered after `delay`.
    pub fn delay_next_token_requests(&self, count: usize, delay: Duration) {
        let mut state = self.lock();
        for _ in 0..count {
            state.knobs.delay.push_back(delay);
        }
    }

    /// The next `count` token requests wait at the returned gate until it is released.
    pub fn hold_next_token_requests(&self, count: usize) -> TokenGate {
        let (open, _) = watch::channel(false);
        let inner = Arc::new(GateInner {
            held: Mutex::new(0),
            open,
        });
        let mut state = self.lock();
        for _ in 0..count {
            state.knobs.hold.push_back(inner.clone());
        }
        TokenGate { inner }
    }

    /// The next authorization redirects with `error` instead of a code.
    pub fn deny_next_authorization(&self, error: &str) {
        self.lock().deny_next = Some(error.to_owned());
    }

    /// Makes every access token issued so far expired.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for info in self.lock().access.values_mut() {
            info.expires = now;
        }
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    pub fn refreshes(&self) -> u64 {
        self.counters().refreshes
    }

    /// Whether `/resource` would accept this access token now.
    pub fn is_access_token_valid(&self, token: &str) -> bool {
        self.lock()
            .access
            .get(token)
            .is_some_and(|info| info.expires > Instant::now())
    }

    /// Whether this refresh token would be accepted now.
    pub fn is_refresh_token_valid(&self, token: &str) -> bool {
        self.lock().refresh.contains_key(token)
    }

    /// Refresh tokens the server accepts now.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        self.lock().refresh.keys().cloned().collect()
    }

    /// Refresh tokens that were used once and rotated out.
    pub fn used_refresh_tokens(&self) -> Vec<String> {
        self.lock().used_refresh.clone()
    }

    /// Tokens (grants) the server keeps for `user`.
    pub fn tokens_of_user(&self, user: &str) -> usize {
        self.lock().by_user.get(user).map_or(0, VecDeque::len)
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let mut state = state.lock().expect("state");
    if param("client_id") != state.config.client_id {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let redirect_uri = param("redirect_uri");
    let Ok(mut redirect) = url::Url::parse(&redirect_uri) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri must be an absolute URL",
        )
            .into_response();
    };
    let mut answer = |pairs: &[(&str, &str)]| {
        {
            let mut query = redirect.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
        }
        Redirect::to(redirect.as_str()).into_response()
    };
    let client_state = param("state");
    if param("response_type") != "code" {
        return answer(&[
            ("error", "unsupported_response_type"),
            ("state", &client_state),
        ]);
    }
    if param("code_challenge").is_empty() || param("code_challenge_method") != "S256" {
        return answer(&[
            ("error", "invalid_request"),
            ("error_description", "PKCE with S256 is required"),
            ("state", &client_state),
        ]);
    }
    if let Some(error) = state.deny_next.take() {
        return answer(&[("error", &error), ("state", &client_state)]);
    }
    let code = random_token("code");
    let user = state.user.clone();
    state.codes.insert(
        code.clone(),
        Code {
            client_id: param("client_id"),
            redirect_uri: redirect_uri.clone(),
            challenge: param("code_challenge"),
            user,
            scope: param("scope"),
            issued: Instant::now(),
        },
    );
    answer(&[("code", &code), ("state", &client_state)])
}

/// The client's id and secret from HTTP basic authentication or the body.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| {
            let (id, secret) = v.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        });
    basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    })
}

async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Decide, on arrival, what this request meets.
    let (hold, delay, fail) = {
        let mut state = shared.lock().expect("state");
        state.counters.token_requests += 1;
        let knobs = &mut state.knobs;
        (
            knobs.hold.pop_front(),
            knobs.delay.pop_front(),
            knobs.fail.pop_front(),
        )
    };
    if let Some(gate) = hold {
        let mut open = gate.open.subscribe();
        *gate.held.lock().expect("gate") += 1;
        let _ = open.wait_for(|open| *open).await;
        *gate.held.lock().expect("gate") -= 1;
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let mut state = shared.lock().expect("state");
    if let Some(error) = fail {
        if grant_type == "refresh_token" {
            state.counters.refused_refreshes += 1;
        }
        let status = match error.as_str() {
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "invalid_client" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        return oauth_error(status, &error, "failure injected by the test");
    }
    let (client_id, client_secret) = client_credentials(&headers, &form);
    if client_id != state.config.client_id || client_secret != state.config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match grant_type.as_str() {
        "authorization_code" => {
            let Some(code) = state.codes.remove(&field("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            if code.client_id != client_id
                || code.redirect_uri != field("redirect_uri")
                || code.issued.elapsed() > Duration::from_secs(600)
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code does not match",
                );
            }
            let verifier = field("code_verifier");
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.is_empty() || computed != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
            state.counters.codes_exchanged += 1;
            let grant = state.next_grant;
            state.next_grant += 1;
            let refresh = random_token("refresh");
            state.refresh.insert(refresh.clone(), grant);
            state.grants.insert(
                grant,
                Grant {
                    user: code.user.clone(),
                    scope: code.scope.clone(),
                    refresh_token: Some(refresh.clone()),
                    access_tokens: Vec::new(),
                },
            );
            let user_grants = state.by_user.entry(code.user.0.clone()).or_default();
            user_grants.push_back(grant);
            // Like Google: one token too many silently drops the oldest.
            let mut dropped = Vec::new();
            if let Some(max) = state.config.max_tokens_per_user {
                let user_grants = state.by_user.get_mut(&code.user.0).expect("just added");
                while user_grants.len() > max {
                    dropped.extend(user_grants.pop_front());
                }
            }
            for old in dropped {
                drop_grant(&mut state, old);
            }
            issue(&mut state, grant, Some(refresh))
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            let Some(grant) = state.refresh.get(&presented).copied() else {
                state.counters.refused_refreshes += 1;
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, revoked or already used refresh token",
                );
            };
            state.counters.refreshes += 1;
            let new_refresh = if state.config.rotate_refresh_tokens {
                state.refresh.remove(&presented);
                state.used_refresh.push(presented.clone());
                let refresh = random_token("refresh");
                state.refresh.insert(refresh.clone(), grant);
                if let Some(g) = state.grants.get_mut(&grant) {
                    g.refresh_token = Some(refresh.clone());
                }
                Some(refresh)
            } else {
                None
            };
            issue(&mut state, grant, new_refresh)
        }
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

/// A token response for `grant`: a new access token, and the refresh token if given.
fn issue(state: &mut ServerState, grant: u64, refresh: Option<String>) -> Response {
    let access = random_token("access");
    let ttl = state.config.access_token_ttl;
    let Some(g) = state.grants.get_mut(&grant) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "grant gone");
    };
    g.access_tokens.push(access.clone());
    let (user, scope) = (g.user.clone(), g.scope.clone());
    state.access.insert(
        access.clone(),
        AccessInfo {
            grant,
            user: user.0.clone(),
            expires: Instant::now() + ttl,
        },
    );
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "scope": scope,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    if state.config.issue_id_token {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(json!({"sub": user.0, "email": user.1}).to_string());
        body["id_token"] = json!(format!("{header}.{claims}."));
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn drop_grant(state: &mut ServerState, grant: u64) {
    if let Some(g) = state.grants.remove(&grant) {
        if let Some(refresh) = g.refresh_token {
            state.refresh.remove(&refresh);
        }
        for access in g.access_tokens {
            state.access.remove(&access);
        }
        if let Some(list) = state.by_user.get_mut(&g.user.0) {
            list.retain(|id| *id != grant);
        }
    }
}

async fn revoke(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = shared.lock().expect("state");
    let (client_id, client_secret) = client_credentials(&headers, &form);
    if client_id != state.config.client_id || client_secret != state.config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    state.counters.revocations += 1;
    let token = form.get("token").cloned().unwrap_or_default();
    // Revoking a refresh token ends its whole grant; an access token, only itself.
    if let Some(grant) = state.refresh.get(&token).copied() {
        drop_grant(&mut state, grant);
    } else if let Some(info) = state.access.remove(&token)
        && let Some(g) = state.grants.get_mut(&info.grant)
    {
        g.access_tokens.retain(|a| *a != token);
    }
    StatusCode::OK.into_response()
}

/// The user of a valid bearer access token.
fn bearer_user(state: &ServerState, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let info = state.access.get(token)?;
    (info.expires > Instant::now()).then(|| info.user.clone())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
        axum::Json(json!({"error": "invalid_token"})),
    )
        .into_response()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let state = shared.lock().expect("state");
    let Some(user) = bearer_user(&state, &headers) else {
        return unauthorized();
    };
    let name = state
        .grants
        .values()
        .find(|g| g.user.0 == user)
        .map(|g| g.user.1.clone())
        .unwrap_or_default();
    axum::Json(json!({"sub": user, "email": name})).into_response()
}

async fn resource(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = shared.lock().expect("state");
    state.counters.resource_requests += 1;
    let Some(user) = bearer_user(&state, &headers) else {
        return unauthorized();
    };
    axum::Json(json!({"user": user, "data": state.resource_body})).into_response()
}
