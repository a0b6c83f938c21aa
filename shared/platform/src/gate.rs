//! The gate in front of every Trellis service: authentication, the method's access rule
//! ([`crate::policy`]) and, for people, their membership in the account they are signed into
//! (DESIGN.md section 3, I15), all before a handler runs.
//!
//! A user's token names an account (`acct`) and a role; the call passes only when the
//! library's memberships give that user at least that role there (a partner's admins are
//! admins of its clients). Answers are remembered for a short time ([`MembershipCache`]) so
//! the check stays off the hot path; the library answers from its own tables, the other
//! services ask it over gRPC ([`LibraryMemberships`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::server::NamedService;
use tonic::{Code, Status};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

use crate::auth::{Authenticator, Caller, Role, ServiceTokens, bearer_of};
use crate::client::{self, TracedChannel, authorized};
use crate::config::ServiceKind;
use crate::policy;

/// Where memberships are looked up.
#[tonic::async_trait]
pub trait MembershipDirectory: Send + Sync + 'static {
    /// The highest role `user` holds in `account`, directly or as an admin of its partner;
    /// `None` when the user may not sign into it.
    async fn role_of(&self, user: &str, account: Uuid) -> Result<Option<Role>, Status>;
}

/// Asks the library service (`CheckMembership`) with this service's own token.
pub struct LibraryMemberships {
    client: LibraryServiceClient<TracedChannel>,
    tokens: ServiceTokens,
}

impl LibraryMemberships {
    pub fn new(library_url: &str, tokens: ServiceTokens) -> anyhow::Result<Self> {
        Ok(Self {
            client: LibraryServiceClient::new(client::channel(library_url)?),
            tokens,
        })
    }
}

#[tonic::async_trait]
impl MembershipDirectory for LibraryMemberships {
    async fn role_of(&self, user: &str, account: Uuid) -> Result<Option<Role>, Status> {
        let request = library::CheckMembershipRequest {
            user_id: user.to_owned(),
            account_id: account.to_string(),
        };
        let answer = self
            .client
            .clone()
            .check_membership(authorized(
                request,
                &self.tokens.bearer(ServiceKind::Library),
            ))
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), message = status.message(), "membership check failed");
                Status::unavailable("memberships cannot be checked right now; retry later")
            })?
            .into_inner();
        Ok(library::MembershipRole::try_from(answer.role)
            .ok()
            .and_then(role_from_wire))
    }
}

/// The domain role of a wire role; `None` for unspecified.
pub fn role_from_wire(role: library::MembershipRole) -> Option<Role> {
    match role {
        library::MembershipRole::Admin => Some(Role::Admin),
        library::MembershipRole::Editor => Some(Role::Editor),
        library::MembershipRole::Viewer => Some(Role::Viewer),
        library::MembershipRole::Unspecified => None,
    }
}

pub fn role_to_wire(role: Option<Role>) -> library::MembershipRole {
    match role {
        Some(Role::Admin) => library::MembershipRole::Admin,
        Some(Role::Editor) => library::MembershipRole::Editor,
        Some(Role::Viewer) => library::MembershipRole::Viewer,
        Some(Role::Service) | None => library::MembershipRole::Unspecified,
    }
}

/// What the cache remembers: (user, account) → (role, when it was looked up).
type Entries = HashMap<(String, Uuid), (Option<Role>, Instant)>;

/// Remembers membership answers: found ones for the configured time, missing ones for at
/// most five seconds (so a membership just added works almost at once).
pub struct MembershipCache {
    directory: Arc<dyn MembershipDirectory>,
    ttl: Duration,
    entries: Mutex<Entries>,
}

/// Entries kept at most; past it the cache starts over (it is only a shortcut).
const MAX_CACHED: usize = 100_000;

impl MembershipCache {
    pub fn new(directory: Arc<dyn MembershipDirectory>, ttl: Duration) -> Self {
        Self {
            directory,
            ttl,
            entries: Mutex::default(),
        }
    }

    pub async fn role_of(&self, user: &str, account: Uuid) -> Result<Option<Role>, Status> {
        let key = (user.to_owned(), account);
        if let Some((role, at)) = self.lock().get(&key).copied() {
            let ttl = if role.is_some() {
                self.ttl
            } else {
                self.ttl.min(Duration::from_secs(5))
            };
            if at.elapsed() < ttl {
                return Ok(role);
            }
        }
        let role = self.directory.role_of(user, account).await?;
        let mut entries = self.lock();
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(key, (role, Instant::now()));
        Ok(role)
    }

    /// Forgets every answer (the library calls it when memberships change, so its own
    /// answers are current at once, for a partner's clients too).
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Authentication, the access rule and the membership check for one service.
#[derive(Clone)]
pub struct Gate {
    authenticator: Authenticator,
    memberships: Arc<MembershipCache>,
}

impl Gate {
    pub fn new(authenticator: Authenticator, memberships: Arc<MembershipCache>) -> Self {
        Self {
            authenticator,
            memberships,
        }
    }

    /// The membership answers this gate remembers.
    pub fn memberships(&self) -> &Arc<MembershipCache> {
        &self.memberships
    }

    /// Wraps a generated service server (`XServiceServer::new(handlers)`).
    pub fn guard<S>(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.clone(),
        }
    }

    /// The verified caller of a call to `path`, or the status that refuses it.
    pub async fn admit(&self, path: &str, authorization: Option<&str>) -> Result<Caller, Status> {
        let bearer = authorization
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let bearer = bearer_of(bearer)
            .ok_or_else(|| Status::unauthenticated("authorization must be: Bearer <token>"))?
            .to_owned();
        let claims = self.authenticator.verify(&bearer)?;
        let caller = Caller { claims, bearer };
        let method = path.trim_start_matches('/');
        let Some(rule) = policy::rule(path) else {
            return Err(Status::permission_denied(format!(
                "{method} has no access rule"
            )));
        };
        if let Some(identity) = caller.identity() {
            return if rule.services.contains(&identity) {
                Ok(caller)
            } else {
                Err(Status::permission_denied(format!(
                    "the {} identity may not call {method}",
                    identity.name()
                )))
            };
        }
        if !rule.members {
            return Err(Status::permission_denied(format!(
                "{method} is callable only by Trellis services"
            )));
        }
        let account = caller
            .account()
            .map_err(|_| Status::permission_denied("the token is not signed into an account"))?;
        match self.memberships.role_of(caller.user(), account).await? {
            Some(held) if caller.role() <= held => Ok(caller),
            _ => Err(Status::permission_denied(format!(
                "user {} is not a member of account {account} with role {}",
                caller.user(),
                caller.role().as_str()
            ))),
        }
    }
}

/// A service behind a [`Gate`].
#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

impl<S: NamedService> NamedService for Gated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Gated<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone serves the next call; the service that was polled ready serves this one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let authorization = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            match gate.admit(&path, authorization.as_deref()).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => {
                    if status.code() != Code::Unauthenticated {
                        tracing::info!(method = %path, code = ?status.code(), message = status.message(), "call refused at the gate");
                    }
                    Ok(status.into_http())
                }
            }
        })
    }
}
