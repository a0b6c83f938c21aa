//! A third-party data API on loopback, for tests of the refresh service: the HTTP endpoints
//! that data sources fetch.
//!
//! It serves JSON and CSV per path, can require a bearer token, basic auth or an API key
//! (header or query parameter), and enforces limits like a real API: N requests at once and
//! R per second (a sliding one-second window), per credential and overall, answering 429
//! with Retry-After past them. Tests make it slow, fail the next requests of a path, or hold
//! them open until released (to kill a worker mid-request), and read what it saw: every
//! request with its arrival time, the most requests in flight at once (overall, per path,
//! per credential), the most requests in any one-second window, and the 429s it answered.
//!
//! The endpoint itself (authentication, limits, knobs, counting) is in `serve`.

mod serve;

pub use serve::max_in_window;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a path answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
    /// Send the body in chunks without a Content-Length.
    pub chunked: bool,
}

impl Reply {
    pub fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: Bytes::from(value.to_string()),
            headers: Vec::new(),
            chunked: false,
        }
    }

    pub fn csv(text: &str) -> Self {
        Self {
            status: 200,
            content_type: "text/csv".into(),
            body: Bytes::from(text.to_owned()),
            headers: Vec::new(),
            chunked: false,
        }
    }

    /// A body of `len` bytes (a JSON string, so that it parses when small enough).
    pub fn large(len: usize) -> Self {
        let mut body = vec![b'x'; len.max(2)];
        body[0] = b'"';
        *body.last_mut().expect("two bytes at least") = b'"';
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: Bytes::from(body),
            headers: Vec::new(),
            chunked: false,
        }
    }

    /// An error status with a short text body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            content_type: "text/plain".into(),
            body: Bytes::from(format!("status {status}")),
            headers: Vec::new(),
            chunked: false,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }
}

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

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub method: String,
    pub path: String,
    pub query: String,
    pub at: Instant,
    /// The bearer token, basic user or API key presented, if any.
    pub credential: Option<String>,
    /// The status answered; 0 while still being answered or when the client went away.
    pub status: u16,
}

#[derive(Default)]
struct Route {
    reply: Option<Reply>,
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
}

struct Inner {
    routes: Mutex<HashMap<String, Route>>,
    auth: Mutex<Auth>,
    overall_limits: Mutex<Limits>,
    credential_limits: Mutex<Limits>,
    stats: Mutex<Stats>,
    release: watch::Sender<u64>,
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
            stats: Mutex::new(Stats::default()),
            release: watch::channel(0).0,
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
