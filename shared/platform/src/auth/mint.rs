//! Signing tokens: a service's short-lived tokens for its calls to other services (cached
//! per audience by [`ServiceTokens`]), and development tokens for people (`make token`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use super::settings::{JwtKeys, read};
use super::{Claims, Identity, Role};
use crate::config::{CommonConfig, ServiceKind};

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
        Self::from_keys(&JwtKeys::of(config), identity)
    }

    /// As [`TokenMinter::from_config`], from the key settings alone.
    pub fn from_keys(keys: &JwtKeys, identity: Identity) -> anyhow::Result<Self> {
        match (&keys.jwt_public_key_file, &keys.jwt_private_key_file) {
            (_, Some(private)) => Self::rs256_pem(&read(private)?, identity),
            (Some(_), None) => anyhow::bail!(
                "TRELLIS_JWT_PUBLIC_KEY_FILE is set but TRELLIS_JWT_PRIVATE_KEY_FILE is not: \
                 the {} identity needs an RS256 private key to sign its service tokens",
                identity.name()
            ),
            (None, None) => Ok(Self::hs256(keys.secret().as_bytes(), identity)),
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
    cache: Arc<std::sync::Mutex<Vec<(ServiceKind, String, Instant)>>>,
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
        cache.push((audience, token.clone(), Instant::now()));
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
