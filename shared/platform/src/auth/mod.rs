//! JWT authentication (DESIGN.md section 3).
//!
//! Every call carries `authorization: Bearer <JWT>`, HS256 with a shared secret by default or
//! RS256 with public keys. The claims say who calls (`sub`), which account they are signed
//! into (`acct`), and their `role`. `service` is the role of Trellis's own identities
//! ([`Identity`]): each service signs its own tokens with its name as `sub` and the service it
//! calls as the audience (`aud`), so a token one service was given cannot be replayed against
//! another. [`Authenticator`] verifies tokens (`verify`), [`TokenMinter`] and
//! [`ServiceTokens`] sign them (`mint`), [`check_jwt_settings`] refuses weak settings
//! (`settings`); [`crate::gate`] decides who may call what.

mod mint;
mod settings;
mod verify;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Deserializer, Serialize};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::config::ServiceKind;
use crate::error::ApiError;

pub use mint::{SERVICE_TOKEN_TTL, ServiceTokens, TokenMinter, encode_hs256};
pub use settings::{DEVELOPMENT_SECRET, JwtKeys, MIN_SECRET_BYTES, check_jwt_settings};
pub use verify::Authenticator;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
    /// Trellis's own services and background work.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
            Role::Service => "service",
        }
    }

    /// The three roles a user can hold in an account.
    pub fn parse_member(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Trellis's own identities: the four services, the public web edge, and operators (people
/// running the deployment, with `make token SERVICE=operator` in development).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Identity {
    Library,
    Imports,
    Tokens,
    Refresh,
    Edge,
    Operator,
}

impl Identity {
    pub const ALL: [Identity; 6] = [
        Identity::Library,
        Identity::Imports,
        Identity::Tokens,
        Identity::Refresh,
        Identity::Edge,
        Identity::Operator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Identity::Library => "library",
            Identity::Imports => "imports",
            Identity::Tokens => "tokens",
            Identity::Refresh => "refresh",
            Identity::Edge => "edge",
            Identity::Operator => "operator",
        }
    }

    pub fn parse(name: &str) -> Option<Identity> {
        Identity::ALL.into_iter().find(|i| i.name() == name)
    }

    pub fn of(service: ServiceKind) -> Identity {
        match service {
            ServiceKind::Library => Identity::Library,
            ServiceKind::Imports => Identity::Imports,
            ServiceKind::Tokens => Identity::Tokens,
            ServiceKind::Refresh => Identity::Refresh,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user, or the identity's name for service tokens.
    pub sub: String,
    /// The account the user is signed into; empty in service tokens.
    #[serde(default)]
    pub acct: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// The services a service token is meant for (a string or a list in the JWT).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// The verified identity behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: Claims,
    /// The bearer token as received, forwarded when calling another service on the
    /// caller's behalf.
    pub bearer: String,
}

impl Caller {
    pub fn user(&self) -> &str {
        &self.claims.sub
    }

    pub fn role(&self) -> Role {
        self.claims.role
    }

    pub fn is_service(&self) -> bool {
        self.claims.role == Role::Service
    }

    /// The Trellis identity of a service token; `None` for users.
    pub fn identity(&self) -> Option<Identity> {
        self.is_service()
            .then(|| Identity::parse(&self.claims.sub))
            .flatten()
    }

    /// True for an operator's token (global figures, account and provider administration).
    pub fn is_operator(&self) -> bool {
        self.identity() == Some(Identity::Operator)
    }

    /// The signed-in account. Service tokens have none.
    pub fn account(&self) -> Result<Uuid, ApiError> {
        Uuid::parse_str(&self.claims.acct).map_err(|_| {
            ApiError::PermissionDenied("the token is not signed into an account".into())
        })
    }

    /// Admins and editors write; viewers only read.
    pub fn require_writer(&self) -> Result<(), ApiError> {
        match self.claims.role {
            Role::Admin | Role::Editor | Role::Service => Ok(()),
            Role::Viewer => Err(ApiError::PermissionDenied(
                "viewers cannot change anything".into(),
            )),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.claims.role {
            Role::Admin | Role::Service => Ok(()),
            _ => Err(ApiError::PermissionDenied(
                "this action needs an admin of the account".into(),
            )),
        }
    }

    /// Which services may call a method is decided by [`crate::policy`]; this keeps users
    /// out of a handler that only services reach.
    pub fn require_service(&self) -> Result<(), ApiError> {
        if self.is_service() {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(
                "this method is callable only with a service token".into(),
            ))
        }
    }
}

/// Returns the caller that the gate verified for this request.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))
}

/// The bearer token of an `authorization` header value.
pub fn bearer_of(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}
