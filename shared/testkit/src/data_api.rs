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

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
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
        let app = Router::new().fallback(handle).with_state(inner.clone());
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

/// The most instants in any half-open window `[t, t + window)`.
pub fn max_in_window(mut times: Vec<Instant>, window: Duration) -> usize {
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// The credential a request presents, as the limits and the log key it.
fn credential(headers: &HeaderMap, uri: &Uri, auth: &Auth) -> Option<String> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(token.to_owned());
    }
    if let Some(basic) = authorization.and_then(|v| v.strip_prefix("Basic ")) {
        let decoded = STANDARD.decode(basic).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return Some(text.split(':').next().unwrap_or_default().to_owned());
    }
    match auth {
        Auth::ApiKeyHeader { name, .. } => headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Auth::ApiKeyQuery { name, .. } => query_param(uri, name),
        _ => None,
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn authorized(auth: &Auth, headers: &HeaderMap, uri: &Uri) -> bool {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match auth {
        Auth::None => true,
        Auth::AnyBearer => authorization
            .strip_prefix("Bearer ")
            .is_some_and(|t| !t.is_empty()),
        Auth::Bearer(accept) => authorization
            .strip_prefix("Bearer ")
            .is_some_and(|token| accept(token)),
        Auth::Basic { username, password } => {
            authorization.strip_prefix("Basic ")
                == Some(&STANDARD.encode(format!("{username}:{password}")))
        }
        Auth::ApiKeyHeader { name, key } => headers
            .get(name.as_str())
            .is_some_and(|v| v.as_bytes() == key.as_bytes()),
        Auth::ApiKeyQuery { name, key } => query_param(uri, name).as_deref() == Some(key.as_str()),
    }
}

/// Leaves the flight counters when the request ends, answered or abandoned.
struct InFlight {
    inner: Arc<Inner>,
    path: String,
    credential: Option<String>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut stats = self.inner.stats.lock().expect("stats");
        stats.overall.now -= 1;
        if let Some(flight) = stats.per_path.get_mut(&self.path) {
            flight.now -= 1;
        }
        if let Some(credential) = &self.credential
            && let Some(flight) = stats.per_credential.get_mut(credential)
        {
            flight.now -= 1;
        }
    }
}

/// Counts a held request until it is released or abandoned.
struct Held(Arc<Inner>);

impl Held {
    fn enter(inner: Arc<Inner>) -> Self {
        inner.stats.lock().expect("stats").held_now += 1;
        Self(inner)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.stats.lock().expect("stats").held_now -= 1;
    }
}

/// Seconds until a sliding one-second window holding `accepted` has room for one more under
/// `limit`; `None` when it has room now.
fn rate_wait(
    accepted: &mut VecDeque<Instant>,
    limit: Option<usize>,
    now: Instant,
) -> Option<Duration> {
    while accepted
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        accepted.pop_front();
    }
    let limit = limit?;
    if accepted.len() < limit {
        return None;
    }
    let oldest = accepted[accepted.len() - limit];
    Some(Duration::from_secs(1).saturating_sub(now.duration_since(oldest)))
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&seconds.to_string()).expect("a number"),
    );
    response
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = Response::new(Body::from(text.to_owned()));
    *response.status_mut() = status;
    response
}

fn build(reply: Reply) -> Response {
    let body = if reply.chunked {
        let chunks: Vec<Result<Bytes, Infallible>> = reply
            .body
            .chunks(16 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Body::from_stream(tokio_stream::iter(chunks))
    } else {
        Body::from(reply.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(&reply.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let at = Instant::now();
    let path = uri.path().to_owned();
    let auth = inner.auth.lock().expect("auth").clone();
    let credential = credential(&headers, &uri, &auth);
    let index = {
        let mut stats = inner.stats.lock().expect("stats");
        stats.arrivals.push(Arrival {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or_default().to_owned(),
            at,
            credential: credential.clone(),
            status: 0,
        });
        stats.arrivals.len() - 1
    };
    let finish = |response: Response| {
        inner.stats.lock().expect("stats").arrivals[index].status = response.status().as_u16();
        response
    };

    if !authorized(&auth, &headers, &uri) {
        return finish(plain(StatusCode::UNAUTHORIZED, "unauthorized"));
    }

    // The limits, decided and entered under one lock.
    let _in_flight = {
        let overall = *inner.overall_limits.lock().expect("limits");
        let per_credential = *inner.credential_limits.lock().expect("limits");
        let mut stats = inner.stats.lock().expect("stats");
        let stats = &mut *stats;
        let mut wait = rate_wait(&mut stats.accepted, overall.per_second, at);
        if overall
            .max_concurrent
            .is_some_and(|max| stats.overall.now >= max)
        {
            wait = Some(wait.unwrap_or(Duration::from_secs(1)));
        }
        if let Some(credential) = &credential {
            let accepted = stats
                .accepted_per_credential
                .entry(credential.clone())
                .or_default();
            if let Some(more) = rate_wait(accepted, per_credential.per_second, at) {
                wait = Some(wait.map_or(more, |w| w.max(more)));
            }
            let flight = stats.per_credential.entry(credential.clone()).or_default();
            if per_credential
                .max_concurrent
                .is_some_and(|max| flight.now >= max)
            {
                wait = Some(wait.unwrap_or(Duration::from_secs(1)));
            }
        }
        if let Some(wait) = wait {
            stats.rejected_429 += 1;
            stats.arrivals[index].status = 429;
            return too_many(wait);
        }
        stats.accepted.push_back(at);
        stats.overall.enter();
        stats.per_path.entry(path.clone()).or_default().enter();
        if let Some(credential) = &credential {
            stats
                .accepted_per_credential
                .entry(credential.clone())
                .or_default()
                .push_back(at);
            stats
                .per_credential
                .entry(credential.clone())
                .or_default()
                .enter();
        }
        InFlight {
            inner: inner.clone(),
            path: path.clone(),
            credential: credential.clone(),
        }
    };

    let (reply, delay, hold) = {
        let mut routes = inner.routes.lock().expect("routes");
        match routes.get_mut(&path) {
            Some(route) => {
                let hold = route.hold_next > 0;
                if hold {
                    route.hold_next -= 1;
                }
                let reply = route.fail_next.pop_front().or_else(|| route.reply.clone());
                (reply, route.delay, hold)
            }
            None => (None, Duration::ZERO, false),
        }
    };

    if hold {
        let mut release = inner.release.subscribe();
        release.mark_unchanged();
        let _held = Held::enter(inner.clone());
        let _ = release.changed().await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match reply {
        Some(reply) => build(reply),
        None => plain(StatusCode::NOT_FOUND, "no such path"),
    };
    finish(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_count_is_half_open() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(
            max_in_window(
                vec![at(0), at(999), at(1000), at(1500)],
                Duration::from_secs(1)
            ),
            3
        );
        assert_eq!(
            max_in_window(vec![at(0), at(1000), at(2000)], Duration::from_secs(1)),
            1
        );
        assert_eq!(max_in_window(vec![], Duration::from_secs(1)), 0);
    }
}
