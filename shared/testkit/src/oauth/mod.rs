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
//!
//! [`consent`] and [`follow`] play the browser's part of the code flow against it.

mod browser;
mod endpoints;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use browser::{Redirect, consent, follow};

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
    /// Fields every token answer carries besides the standard ones.
    extra_token_fields: serde_json::Map<String, serde_json::Value>,
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
            extra_token_fields: serde_json::Map::new(),
        }));
        let router = Router::new()
            .route("/authorize", get(endpoints::authorize))
            .route("/token", post(endpoints::token))
            .route("/revoke", post(endpoints::revoke))
            .route("/userinfo", get(endpoints::userinfo))
            .route("/resource", get(endpoints::resource))
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

    /// This server as a token-service provider named "Test Analytics" asking for the
    /// `analytics.read` scope, without limits: what CreateProvider registers for it.
    pub fn provider(&self) -> trellis_proto::tokens::v1::Provider {
        trellis_proto::tokens::v1::Provider {
            name: "Test Analytics".into(),
            authorization_url: self.authorization_url(),
            token_url: self.token_url(),
            revocation_url: self.revocation_url(),
            userinfo_url: self.userinfo_url(),
            client_id: self.client_id(),
            client_secret: self.client_secret(),
            scopes: vec!["analytics.read".into()],
            ..Default::default()
        }
    }

    /// The external user that the next authorizations approve for.
    pub fn set_user(&self, id: &str, name: &str) {
        self.lock().user = (id.to_owned(), name.to_owned());
    }

    /// The lifetime of access tokens issued from now on (zero: born expired).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.lock().config.access_token_ttl = ttl;
    }

    /// Fields that every token answer from now on carries besides the standard ones, as a
    /// provider's own (Salesforce's `instance_url`): `fields` is a JSON object, and a field
    /// it names again replaces the one set before.
    pub fn set_extra_token_fields(&self, fields: serde_json::Value) {
        let serde_json::Value::Object(fields) = fields else {
            panic!("extra token fields are a JSON object");
        };
        self.lock().extra_token_fields.extend(fields);
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
