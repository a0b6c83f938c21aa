//! A third-party data API on loopback, for tests of the refresh service: the HTTP endpoints
//! that data sources fetch.
//!
//! It serves JSON and CSV per path, can require a bearer token, basic auth or an API key
//! (header or query parameter), and enforces limits like a real API: N requests at once and
//! R per second (a sliding one-second window), per credential and overall, answering 429
//! with Retry-After past them, and further sliding windows of any length ([`Window`]: 12 per
//! 5 s, say). Tests make it slow, fail the next requests of a path, or hold
//! them open until released (to kill a worker mid-request), and read what it saw: every
//! request with its arrival time, the most requests in flight at once (overall, per path,
//! per credential), the most requests in any one-second window, and the 429s it answered.
//! Each request is kept whole (URL, headers, body) so tests check what the API received.
//!
//! Paginated answers are a sequence of replies keyed by a query parameter's value
//! ([`DataApi::set_pages`]). Besides plain credentials it checks signed requests, recomputing
//! the HMAC itself ([`SignatureCheck`]), and serves a login endpoint and a client-credentials
//! token endpoint whose tokens it accepts until a test expires them (`issuer`).
//!
//! The endpoint itself (authentication, limits, knobs, counting) is in `serve`.

mod issuer;
mod reply;
mod serve;
mod signature;

pub use issuer::{ClientCredentialsEndpoint, LoginEndpoint};
pub use reply::Reply;
pub use serve::max_in_window;
pub use signature::SignatureCheck;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a request must present.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// Any `Authorization: Bearer …`.
    AnyBearer,
    /// A bearer token the function accepts (e.g. one the OAuth test server issued).
    Bearer(Arc<dyn Fn(&str) -> bool + Send + Sync>),
    Basic {
        username: String,
        password: String,
    },
    ApiKeyHeader {
        name: String,
        key: String,
    },
    ApiKeyQuery {
        name: String,
        key: String,
    },
    /// An API key in the body: a field of a JSON object body, or a form field.
    ApiKeyBody {
        name: String,
        key: String,
    },
    /// A signature the server recomputes from the request; 401 when it differs.
    Signed(SignatureCheck),
    /// A token the login or client-credentials endpoint issued and that is not expired,
    /// in `header` after `prefix` (`Authorization`, `Bearer `).
    Issued {
        header: String,
        prefix: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::AnyBearer => "AnyBearer",
            Auth::Bearer(_) => "Bearer(..)",
            Auth::Basic { .. } => "Basic",
            Auth::ApiKeyHeader { .. } => "ApiKeyHeader",
            Auth::ApiKeyQuery { .. } => "ApiKeyQuery",
            Auth::ApiKeyBody { .. } => "ApiKeyBody",
            Auth::Signed(_) => "Signed",
            Auth::Issued { .. } => "Issued",
        })
    }
}

/// Limits like a real API's: past them a request is answered 429 with Retry-After.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests in flight at once.
    pub max_concurrent: Option<usize>,
    /// Requests accepted in any one-second window.
    pub per_second: Option<usize>,
}

/// A further sliding window of a limit, beside [`Limits::per_second`]: at most `count`
/// requests accepted in any `window` (e.g. 12 per 5 s), overall or per credential; past it
/// a request is answered 429 with Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub count: usize,
    pub window: Duration,
    pub per_credential: bool,
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The full URL as received (`http://host:port/path?query`).
    pub url: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, as text (lossy).
    pub body: String,
    pub at: Instant,
    /// The bearer token, basic user or API key presented, if any.
    pub credential: Option<String>,
    /// The status answered; 0 while still being answered or when the client went away.
    pub status: u16,
}

/// Replies keyed by the value of a query parameter (a missing parameter is `""`).
#[derive(Default)]
struct Pages {
    parameter: String,
    replies: HashMap<String, Reply>,
}

#[derive(Default)]
struct Route {
    reply: Option<Reply>,
    pages: Option<Pages>,
    delay: Duration,
    fail_next: VecDeque<Reply>,
    hold_next: usize,
}

#[derive(Default)]
struct Flight {
    now: usize,
    max: usize,
}

impl Flight {
    fn enter(&mut self) {
        self.now += 1;
        self.max = self.max.max(self.now);
    }
}

#[derive(Default)]
struct Stats {
    arrivals: Vec<Arrival>,
    overall: Flight,
    per_path: HashMap<String, Flight>,
    per_credential: HashMap<String, Flight>,
    /// Arrival times of accepted requests, overall and per credential, for the rate limit.
    accepted: VecDeque<Instant>,
    accepted_per_credential: HashMap<String, VecDeque<Instant>>,
    rejected_429: usize,
    held_now: usize,
    /// Arrival times of accepted requests per further window (and credential, if per
    /// credential).
    windows: HashMap<(Window, Option<String>), VecDeque<Instant>>,
}

struct Inner {
    routes: Mutex<HashMap<String, Route>>,
    auth: Mutex<Auth>,
    overall_limits: Mutex<Limits>,
    credential_limits: Mutex<Limits>,
    windows: Mutex<Vec<Window>>,
    stats: Mutex<Stats>,
    release: watch::Sender<u64>,
    issuer: Mutex<issuer::Issuer>,
}

/// A running data API; stops when dropped.
pub struct DataApi {
    pub address: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for DataApi {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}

impl DataApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let inner = Arc::new(Inner {
            routes: Mutex::new(HashMap::new()),
            auth: Mutex::new(Auth::None),
            overall_limits: Mutex::new(Limits::default()),
            credential_limits: Mutex::new(Limits::default()),
            windows: Mutex::new(Vec::new()),
            stats: Mutex::new(Stats::default()),
            release: watch::channel(0).0,
            issuer: Mutex::new(issuer::Issuer::default()),
        });
        let app = Router::new()
            .fallback(serve::handle)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            inner,
            task,
        }
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The same URL with `localhost` as host: a name that resolves to loopback.
    pub fn url_by_name(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.address.port())
    }

    fn route<T>(&self, path: &str, change: impl FnOnce(&mut Route) -> T) -> T {
        let mut routes = self.inner.routes.lock().expect("routes");
        change(routes.entry(path.to_owned()).or_default())
    }

    /// Serves `reply` at `path` (any method, any query).
    pub fn set(&self, path: &str, reply: Reply) {
        self.route(path, |route| route.reply = Some(reply));
    }

    pub fn set_json(&self, path: &str, value: serde_json::Value) {
        self.set(path, Reply::json(value));
    }

    pub fn set_csv(&self, path: &str, text: &str) {
        self.set(path, Reply::csv(text));
    }

    /// Serves a page at `path` per value of the query parameter `parameter` (`""` for a
    /// request without it); another value is answered by the path's plain reply, if any,
    /// else 404.
    pub fn set_pages(&self, path: &str, parameter: &str, pages: Vec<(&str, Reply)>) {
        self.route(path, |route| {
            route.pages = Some(Pages {
                parameter: parameter.to_owned(),
                replies: pages
                    .into_iter()
                    .map(|(value, reply)| (value.to_owned(), reply))
                    .collect(),
            });
        });
    }

    /// Every request to `path` waits `delay` before it is answered.
    pub fn set_delay(&self, path: &str, delay: Duration) {
        self.route(path, |route| route.delay = delay);
    }

    /// The next `count` accepted requests to `path` get `reply` instead.
    pub fn fail_next(&self, path: &str, count: usize, reply: Reply) {
        self.route(path, |route| {
            route.fail_next.extend(std::iter::repeat_n(reply, count));
        });
    }

    /// The next `count` accepted requests to `path` are held open until [`Self::release`].
    pub fn hold_next(&self, path: &str, count: usize) {
        self.route(path, |route| route.hold_next += count);
    }

    /// Lets every held request be answered.
    pub fn release(&self) {
        self.inner
            .release
            .send_modify(|generation| *generation += 1);
    }

    /// Requests held open now.
    pub fn held(&self) -> usize {
        self.inner.stats.lock().expect("stats").held_now
    }

    /// What every request must present.
    pub fn require(&self, auth: Auth) {
        *self.inner.auth.lock().expect("auth") = auth;
    }

    /// Limits over all requests.
    pub fn limit_overall(&self, limits: Limits) {
        *self.inner.overall_limits.lock().expect("limits") = limits;
    }

    /// Limits per credential (bearer token, basic user or API key).
    pub fn limit_per_credential(&self, limits: Limits) {
        *self.inner.credential_limits.lock().expect("limits") = limits;
    }

    /// A further window every request must fit in, beside the limits' per-second one.
    pub fn limit_window(&self, window: Window) {
        self.inner.windows.lock().expect("windows").push(window);
    }

    /// Every request received so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.inner.stats.lock().expect("stats").arrivals.clone()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.inner.stats.lock().expect("stats").arrivals.len()
    }

    /// Requests received for `path`.
    pub fn requests_for(&self, path: &str) -> usize {
        self.inner
            .stats
            .lock()
            .expect("stats")
            .arrivals
            .iter()
            .filter(|a| a.path == path)
            .count()
    }

    /// Requests received for `path`, in arrival order.
    pub fn arrivals_for(&self, path: &str) -> Vec<Arrival> {
        self.arrivals()
            .into_iter()
            .filter(|a| a.path == path)
            .collect()
    }

    /// The paths requested, in arrival order.
    pub fn paths(&self) -> Vec<String> {
        self.arrivals().into_iter().map(|a| a.path).collect()
    }

    /// The most requests in flight at once.
    pub fn max_concurrency(&self) -> usize {
        self.inner.stats.lock().expect("stats").overall.max
    }

    /// The most requests to one path in flight at once, and the path.
    pub fn max_concurrency_per_path(&self) -> (usize, String) {
        let stats = self.inner.stats.lock().expect("stats");
        stats
            .per_path
            .iter()
            .map(|(path, flight)| (flight.max, path.clone()))
            .max()
            .unwrap_or_default()
    }

    /// The most requests with one credential in flight at once.
    pub fn max_concurrency_per_credential(&self) -> usize {
        let stats = self.inner.stats.lock().expect("stats");
        stats
            .per_credential
            .values()
            .map(|f| f.max)
            .max()
            .unwrap_or_default()
    }

    /// The most requests received in any one-second window (all requests, 429s included).
    pub fn max_per_second(&self) -> usize {
        max_in_window(
            self.arrivals().iter().map(|a| a.at).collect(),
            Duration::from_secs(1),
        )
    }

    /// 429s answered.
    pub fn rejected_429(&self) -> usize {
        self.inner.stats.lock().expect("stats").rejected_429
    }
}
