//! JWT authentication (DESIGN.md section 3).
//!
//! Every call carries `authorization: Bearer <JWT>`, HS256 with a shared secret by default or
//! RS256 with a public key. The claims say who calls (`sub`), which account they are signed
//! into (`acct`), and their `role`; `service` is the role of Trellis's own background work and
//! service-to-service calls. [`Authenticator`] is a tonic interceptor that verifies the token
//! and puts the [`Caller`] into the request's extensions for the handlers.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::config::CommonConfig;
use crate::error::ApiError;

/// Signs development tokens when no secret is configured; services warn when they use it.
pub const DEVELOPMENT_SECRET: &str = "trellis-development-secret-not-for-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Editor,
    Viewer,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user, or the service's name for service tokens.
    pub sub: String,
    /// The account the user is signed into; empty in service tokens.
    #[serde(default)]
    pub acct: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
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

/// Returns the caller that [`Authenticator`] verified for this request.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))
}

enum VerifyKey {
    Hs256(DecodingKey),
    Rs256(DecodingKey),
}

/// Verifies bearer tokens; a tonic interceptor.
#[derive(Clone)]
pub struct Authenticator {
    key: Arc<VerifyKey>,
}

impl Authenticator {
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: Arc::new(VerifyKey::Hs256(DecodingKey::from_secret(secret))),
        }
    }

    pub fn rs256_pem(public_key_pem: &[u8]) -> anyhow::Result<Self> {
        Ok(Self {
            key: Arc::new(VerifyKey::Rs256(DecodingKey::from_rsa_pem(public_key_pem)?)),
        })
    }

    pub fn from_config(config: &CommonConfig) -> anyhow::Result<Self> {
        match &config.jwt_public_key_file {
            Some(path) => Self::rs256_pem(&std::fs::read(path)?),
            None => Ok(Self::hs256(jwt_secret(config).as_bytes())),
        }
    }

    pub fn verify(&self, bearer: &str) -> Result<Claims, Status> {
        let (key, algorithm) = match self.key.as_ref() {
            VerifyKey::Hs256(key) => (key, Algorithm::HS256),
            VerifyKey::Rs256(key) => (key, Algorithm::RS256),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(bearer, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| {
                Status::unauthenticated(format!("invalid bearer token: {}", error.kind_name()))
            })
    }
}

trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for jsonwebtoken::errors::Error {
    /// A short reason that says nothing about the token's content.
    fn kind_name(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::ExpiredSignature => "expired",
            ErrorKind::InvalidSignature => "bad signature",
            ErrorKind::InvalidAlgorithm => "wrong algorithm",
            ErrorKind::MissingRequiredClaim(_) => "missing claim",
            ErrorKind::Json(_) => "malformed claims",
            _ => "malformed",
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let bearer = header
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Status::unauthenticated("authorization must be: Bearer <token>"))?
            .to_owned();
        let claims = self.verify(&bearer)?;
        request.extensions_mut().insert(Caller { claims, bearer });
        Ok(request)
    }
}

/// Signs tokens: development tokens for people, short-lived service tokens for background
/// work (HS256 only; with RS256 the signing key lives with the identity provider).
#[derive(Clone)]
pub struct TokenMinter {
    key: Arc<EncodingKey>,
}

impl TokenMinter {
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: Arc::new(EncodingKey::from_secret(secret)),
        }
    }

    pub fn from_config(config: &CommonConfig) -> Self {
        Self::hs256(jwt_secret(config).as_bytes())
    }

    pub fn mint(&self, sub: &str, account: Option<Uuid>, role: Role, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            acct: account.map(|a| a.to_string()).unwrap_or_default(),
            role,
            exp: now + ttl.as_secs() as i64,
            iat: now,
        };
        sign(&claims, &self.key)
    }

    /// A short-lived service token for a service's own background work.
    pub fn service_token(&self, service: &str) -> String {
        self.mint(service, None, Role::Service, Duration::from_secs(300))
    }
}

fn sign(claims: &Claims, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key)
        .expect("HS256 signing with an in-memory key cannot fail")
}

/// Signs arbitrary claims with an HS256 secret (tests use it for expired tokens).
pub fn encode_hs256(claims: &Claims, secret: &[u8]) -> String {
    sign(claims, &EncodingKey::from_secret(secret))
}

fn jwt_secret(config: &CommonConfig) -> String {
    match &config.jwt_secret {
        Some(secret) if !secret.is_empty() => secret.clone(),
        _ => DEVELOPMENT_SECRET.to_owned(),
    }
}

/// True when tokens are signed with the development secret; services warn about it.
pub fn uses_development_secret(config: &CommonConfig) -> bool {
    config.jwt_public_key_file.is_none() && jwt_secret(config) == DEVELOPMENT_SECRET
}
