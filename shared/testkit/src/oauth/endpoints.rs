//! The endpoints of the test authorization server: `/authorize`, `/token`, `/revoke`,
//! `/userinfo` and `/resource`, over the state [`super::OAuthServer`] shares with them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{AccessInfo, Code, Grant, ServerState, Shared, random_token};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(super) async fn authorize(
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

/// The id of the client when its credentials are the configured ones, else the
/// `invalid_client` answer.
fn authenticated_client(
    state: &ServerState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Response> {
    let (client_id, client_secret) = client_credentials(headers, form);
    if client_id != state.config.client_id || client_secret != state.config.client_secret {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ));
    }
    Ok(client_id)
}

pub(super) async fn token(
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
    let client_id = match authenticated_client(&state, &headers, &form) {
        Ok(client_id) => client_id,
        Err(refused) => return refused,
    };
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match grant_type.as_str() {
        "authorization_code" => exchange_code(&mut state, &client_id, field),
        "refresh_token" => refresh(&mut state, &field("refresh_token")),
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

/// The authorization_code grant: checks the code, its client, redirect URI, age and PKCE
/// verifier, and starts a grant.
fn exchange_code(
    state: &mut ServerState,
    client_id: &str,
    field: impl Fn(&str) -> String,
) -> Response {
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
        drop_grant(state, old);
    }
    issue(state, grant, Some(refresh))
}

/// The refresh_token grant: a new access token, and with rotation a new refresh token
/// that retires the presented one.
fn refresh(state: &mut ServerState, presented: &str) -> Response {
    let Some(grant) = state.refresh.get(presented).copied() else {
        state.counters.refused_refreshes += 1;
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown, revoked or already used refresh token",
        );
    };
    state.counters.refreshes += 1;
    let new_refresh = if state.config.rotate_refresh_tokens {
        state.refresh.remove(presented);
        state.used_refresh.push(presented.to_owned());
        let refresh = random_token("refresh");
        state.refresh.insert(refresh.clone(), grant);
        if let Some(g) = state.grants.get_mut(&grant) {
            g.refresh_token = Some(refresh.clone());
        }
        Some(refresh)
    } else {
        None
    };
    issue(state, grant, new_refresh)
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
    with_extra_fields(&mut body, &state.extra_token_fields);
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

/// The provider's own fields of a token answer ([`super::OAuthServer::set_extra_token_fields`]);
/// the standard ones stay as issued.
fn with_extra_fields(
    body: &mut serde_json::Value,
    extra: &serde_json::Map<String, serde_json::Value>,
) {
    if let serde_json::Value::Object(fields) = body {
        for (name, value) in extra {
            fields.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
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

pub(super) async fn revoke(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = shared.lock().expect("state");
    if let Err(refused) = authenticated_client(&state, &headers, &form) {
        return refused;
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

pub(super) async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
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

pub(super) async fn resource(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = shared.lock().expect("state");
    state.counters.resource_requests += 1;
    let Some(user) = bearer_user(&state, &headers) else {
        return unauthorized();
    };
    axum::Json(json!({"user": user, "data": state.resource_body})).into_response()
}
