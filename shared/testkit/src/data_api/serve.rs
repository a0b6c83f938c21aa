//! How the data API answers one request: the token endpoints first, then the credential
//! it presents, the limits it meets (429 with Retry-After past them), the knobs a test set
//! (delay, failures, holds, pages), and the counters it leaves.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Arrival, Auth, Inner, Reply, Window};

/// The field `name` of a JSON object body (a string), or of a form body.
fn body_field(headers: &HeaderMap, body: &[u8], name: &str) -> Option<String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json || body.first() == Some(&b'{') {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        return value.get(name)?.as_str().map(str::to_owned);
    }
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The credential a request presents, as the limits and the log key it.
fn credential(headers: &HeaderMap, uri: &Uri, body: &[u8], auth: &Auth) -> Option<String> {
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
        Auth::Issued { header, prefix } => headers
            .get(header.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(prefix.as_str()))
            .map(str::to_owned),
        Auth::Signed(check) => check.key_id_of(headers, uri),
        Auth::ApiKeyBody { name, .. } => body_field(headers, body, name),
        _ => None,
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn authorized(
    auth: &Auth,
    inner: &Inner,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> bool {
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
        Auth::Signed(check) => check.verify(method, uri, headers, body),
        Auth::ApiKeyBody { name, key } => {
            body_field(headers, body, name).as_deref() == Some(key.as_str())
        }
        Auth::Issued { header, prefix } => headers
            .get(header.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(prefix.as_str()))
            .is_some_and(|token| inner.issuer.lock().expect("issuer").is_valid(token)),
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
    window_wait(accepted, limit, now, Duration::from_secs(1))
}

/// As [`rate_wait`], for a sliding window of any length.
fn window_wait(
    accepted: &mut VecDeque<Instant>,
    limit: Option<usize>,
    now: Instant,
    window: Duration,
) -> Option<Duration> {
    while accepted
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        accepted.pop_front();
    }
    let limit = limit?;
    if accepted.len() < limit {
        return None;
    }
    let oldest = accepted[accepted.len() - limit];
    Some(window.saturating_sub(now.duration_since(oldest)))
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

pub(super) fn build(reply: Reply) -> Response {
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

pub(super) async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let path = uri.path().to_owned();
    let auth = inner.auth.lock().expect("auth").clone();
    let credential = credential(&headers, &uri, &body, &auth);
    let index = {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut stats = inner.stats.lock().expect("stats");
        stats.arrivals.push(Arrival {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or_default().to_owned(),
            url: format!("http://{host}{target}"),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
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

    // The token endpoints answer before any credential is asked for.
    let issued = inner
        .issuer
        .lock()
        .expect("issuer")
        .answer(&path, &headers, &body);
    if let Some(response) = issued {
        return finish(response);
    }

    if !authorized(&auth, &inner, &method, &headers, &uri, &body) {
        return finish(plain(StatusCode::UNAUTHORIZED, "unauthorized"));
    }

    // The limits, decided and entered under one lock.
    let _in_flight = {
        let overall = *inner.overall_limits.lock().expect("limits");
        let per_credential = *inner.credential_limits.lock().expect("limits");
        let windows = inner.windows.lock().expect("windows").clone();
        let mut stats = inner.stats.lock().expect("stats");
        let stats = &mut *stats;
        // The further windows that hold for this request, by the key they count under.
        let windows: Vec<(Window, Option<String>)> = windows
            .into_iter()
            .filter(|w| !w.per_credential || credential.is_some())
            .map(|w| (w, credential.clone().filter(|_| w.per_credential)))
            .collect();
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
        for key in &windows {
            let accepted = stats.windows.entry(key.clone()).or_default();
            if let Some(more) = window_wait(accepted, Some(key.0.count), at, key.0.window) {
                wait = Some(wait.map_or(more, |w| w.max(more)));
            }
        }
        if let Some(wait) = wait {
            stats.rejected_429 += 1;
            stats.arrivals[index].status = 429;
            return too_many(wait);
        }
        stats.accepted.push_back(at);
        for key in windows {
            stats.windows.entry(key).or_default().push_back(at);
        }
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
                let page = route.pages.as_ref().and_then(|pages| {
                    let value = query_param(&uri, &pages.parameter).unwrap_or_default();
                    pages.replies.get(&value).cloned()
                });
                let reply = route
                    .fail_next
                    .pop_front()
                    .or(page)
                    .or_else(|| route.reply.clone());
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
