//! JWT authentication (DESIGN.md section 3).
//!
//! Every call carries `authorization: Bearer <JWT>`, HS256 with a shared secret by default or
//! RS256 with public keys. The claims say who calls (`sub`), which account they are signed
//! into (`acct`), and their `role`. `service` is the role of Trellis's own identities
//! ([`Identity`]): each service signs its own tokens with its name as `sub` and the service it
//! calls as the audience (`aud`), so a token one service was given cannot be replayed against
//! another. [`Authenticator`] verifies tokens; [`crate::gate`] decides who may call what.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::config::{CommonConfig, ServiceKind};
use crate::error::ApiError;

/// Signs development tokens when no secret is configured. A service accepts it only in
/// development mode (`TRELLIS_DEVELOPMENT=true`).
pub const DEVELOPMENT_SECRET: &str = "trellis-development-secret-not-for-production";

/// The shortest HS256 secret a service accepts outside development mode (RFC 7518 3.2:
/// a key at least as long as the hash output).
pub const MIN_SECRET_BYTES: usize = 32;

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

enum VerifyKeys {
    Hs256(DecodingKey),
    /// Every public key whose signatures are accepted: the identity provider's and each
    /// service's.
    Rs256(Vec<DecodingKey>),
}

/// Verifies bearer tokens for one service (the audience of service tokens).
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<VerifyKeys>,
    audience: &'static str,
}

impl Authenticator {
    pub fn hs256(secret: &[u8], audience: ServiceKind) -> Self {
        Self {
            keys: Arc::new(VerifyKeys::Hs256(DecodingKey::from_secret(secret))),
            audience: audience.name(),
        }
    }

    /// Every public key in `pem` (one or more `PUBLIC KEY` blocks).
    pub fn rs256_pem(pem: &[u8], audience: ServiceKind) -> anyhow::Result<Self> {
        let keys = pem_blocks(pem)
            .iter()
            .map(|block| DecodingKey::from_rsa_pem(block.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        anyhow::ensure!(!keys.is_empty(), "no PEM public key found");
        Ok(Self {
            keys: Arc::new(VerifyKeys::Rs256(keys)),
            audience: audience.name(),
        })
    }

    pub fn from_config(config: &CommonConfig, audience: ServiceKind) -> anyhow::Result<Self> {
        match &config.jwt_public_key_file {
            Some(path) => Self::rs256_pem(&read(path)?, audience),
            None => Ok(Self::hs256(jwt_secret(config).as_bytes(), audience)),
        }
    }

    pub fn verify(&self, bearer: &str) -> Result<Claims, Status> {
        let decoded = match self.keys.as_ref() {
            VerifyKeys::Hs256(key) => decode(bearer, key, Algorithm::HS256),
            VerifyKeys::Rs256(keys) => {
                let mut result = Err(Status::unauthenticated("invalid bearer token"));
                for key in keys {
                    result = decode(bearer, key, Algorithm::RS256);
                    if result.is_ok() {
                        break;
                    }
                }
                result
            }
        }?;
        if decoded.role == Role::Service {
            if Identity::parse(&decoded.sub).is_none() {
                return Err(Status::unauthenticated(
                    "invalid bearer token: unknown service identity",
                ));
            }
            if !decoded.aud.iter().any(|aud| aud == self.audience) {
                return Err(Status::unauthenticated(format!(
                    "invalid bearer token: a service token for another audience than {}",
                    self.audience
                )));
            }
        }
        Ok(decoded)
    }
}

fn decode(bearer: &str, key: &DecodingKey, algorithm: Algorithm) -> Result<Claims, Status> {
    let mut validation = Validation::new(algorithm);
    validation.set_required_spec_claims(&["exp", "sub"]);
    // Audiences are checked above, for service tokens only: a user's token from the
    // identity provider need not name each service.
    validation.validate_aud = false;
    validation.leeway = 5;
    jsonwebtoken::decode::<Claims>(bearer, key, &validation)
        .map(|data| data.claims)
        .map_err(|error| {
            Status::unauthenticated(format!("invalid bearer token: {}", error.kind_name()))
        })
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))
}

/// The PEM blocks of a file that may hold several.
fn pem_blocks(pem: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line.starts_with("-----END ") {
            blocks.extend(current.take());
        }
    }
    blocks
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

/// The bearer token of an `authorization` header value.
pub fn bearer_of(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

enum SignKey {
    Hs256(EncodingKey),
    Rs256(EncodingKey),
}

/// Signs tokens as one identity: short-lived service tokens for its calls to other services,
/// and development tokens for people (`make token`).
#[derive(Clone)]
pub struct TokenMinter {
    key: Arc<SignKey>,
    identity: Identity,
}

impl TokenMinter {
    pub fn hs256(secret: &[u8], identity: Identity) -> Self {
        Self {
            key: Arc::new(SignKey::Hs256(EncodingKey::from_secret(secret))),
            identity,
        }
    }

    /// Signs with an RS256 private key (PEM, PKCS#1 or PKCS#8).
    pub fn rs256_pem(private_key_pem: &[u8], identity: Identity) -> anyhow::Result<Self> {
        Ok(Self {
            key: Arc::new(SignKey::Rs256(EncodingKey::from_rsa_pem(private_key_pem)?)),
            identity,
        })
    }

    /// HS256 with the configured secret, or RS256 with `TRELLIS_JWT_PRIVATE_KEY_FILE` when
    /// tokens are verified with public keys.
    pub fn from_config(config: &CommonConfig, identity: Identity) -> anyhow::Result<Self> {
        match (&config.jwt_public_key_file, &config.jwt_private_key_file) {
            (_, Some(private)) => Self::rs256_pem(&read(private)?, identity),
            (Some(_), None) => anyhow::bail!(
                "TRELLIS_JWT_PUBLIC_KEY_FILE is set but TRELLIS_JWT_PRIVATE_KEY_FILE is not: \
                 the {} identity needs an RS256 private key to sign its service tokens",
                identity.name()
            ),
            (None, None) => Ok(Self::hs256(jwt_secret(config).as_bytes(), identity)),
        }
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    pub fn mint(&self, sub: &str, account: Option<Uuid>, role: Role, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            acct: account.map(|a| a.to_string()).unwrap_or_default(),
            role,
            exp: now + ttl.as_secs() as i64,
            iat: now,
            aud: Vec::new(),
        };
        self.sign(&claims)
    }

    /// A token of this identity for calls to `audience`, valid for `ttl`.
    pub fn service_token_for(&self, audience: &[ServiceKind], ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: self.identity.name().to_owned(),
            acct: String::new(),
            role: Role::Service,
            exp: now + ttl.as_secs() as i64,
            iat: now,
            aud: audience.iter().map(|s| s.name().to_owned()).collect(),
        };
        self.sign(&claims)
    }

    /// A five-minute token of this identity for calls to `audience`.
    pub fn service_token(&self, audience: ServiceKind) -> String {
        self.service_token_for(&[audience], SERVICE_TOKEN_TTL)
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let (key, algorithm) = match self.key.as_ref() {
            SignKey::Hs256(key) => (key, Algorithm::HS256),
            SignKey::Rs256(key) => (key, Algorithm::RS256),
        };
        jsonwebtoken::encode(&Header::new(algorithm), claims, key)
            .expect("signing plain claims with a loaded key cannot fail")
    }
}

/// How long a service token lives; [`ServiceTokens`] renews it well before.
pub const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(300);

/// One identity's cached service tokens, one per audience, renewed a minute before they
/// expire so background work does not sign a token per call.
#[derive(Clone)]
pub struct ServiceTokens {
    minter: TokenMinter,
    cache: Arc<std::sync::Mutex<Vec<(ServiceKind, String, std::time::Instant)>>>,
}

impl ServiceTokens {
    pub fn new(minter: TokenMinter) -> Self {
        Self {
            minter,
            cache: Arc::default(),
        }
    }

    pub fn identity(&self) -> Identity {
        self.minter.identity()
    }

    /// A bearer token for calls to `audience`.
    pub fn bearer(&self, audience: ServiceKind) -> String {
        let renew_after = SERVICE_TOKEN_TTL - Duration::from_secs(60);
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((_, token, minted)) = cache.iter().find(|(kind, _, _)| *kind == audience)
            && minted.elapsed() < renew_after
        {
            return token.clone();
        }
        let token = self.minter.service_token(audience);
        cache.retain(|(kind, _, _)| *kind != audience);
        cache.push((audience, token.clone(), std::time::Instant::now()));
        token
    }
}

/// Signs arbitrary claims with an HS256 secret (tests use it for expired tokens).
pub fn encode_hs256(claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

fn jwt_secret(config: &CommonConfig) -> String {
    match &config.jwt_secret {
        Some(secret) if !secret.is_empty() => secret.clone(),
        _ => DEVELOPMENT_SECRET.to_owned(),
    }
}

/// Secrets that ship in this repository's manifests and docs and so are public.
const PLACEHOLDERS: [&str; 3] = [DEVELOPMENT_SECRET, "replace-me", "changeme"];

/// Refuses public or weak JWT settings unless development mode was asked for, and says
/// what to set. In development mode it warns instead.
pub fn check_jwt_settings(config: &CommonConfig) -> anyhow::Result<()> {
    let problem = if config.jwt_public_key_file.is_some() {
        config.jwt_private_key_file.is_none().then(|| {
            "TRELLIS_JWT_PUBLIC_KEY_FILE is set but TRELLIS_JWT_PRIVATE_KEY_FILE is not: \
             service tokens could not be signed"
                .to_owned()
        })
    } else {
        match config.jwt_secret.as_deref().unwrap_or_default() {
            "" => Some("TRELLIS_JWT_SECRET is not set".to_owned()),
            secret if PLACEHOLDERS.contains(&secret) => {
                Some("TRELLIS_JWT_SECRET is a published placeholder".to_owned())
            }
            secret if secret.len() < MIN_SECRET_BYTES => Some(format!(
                "TRELLIS_JWT_SECRET is {} bytes; at least {MIN_SECRET_BYTES} are needed",
                secret.len()
            )),
            _ => None,
        }
    };
    match problem {
        None => Ok(()),
        Some(problem) if config.development => {
            tracing::warn!("{problem}; accepted because TRELLIS_DEVELOPMENT=true");
            Ok(())
        }
        Some(problem) => anyhow::bail!(
            "{problem}. Set a random TRELLIS_JWT_SECRET of at least {MIN_SECRET_BYTES} bytes \
             (or RS256 keys with TRELLIS_JWT_PUBLIC_KEY_FILE and TRELLIS_JWT_PRIVATE_KEY_FILE), \
             or TRELLIS_DEVELOPMENT=true to run on development secrets"
        ),
    }
}
