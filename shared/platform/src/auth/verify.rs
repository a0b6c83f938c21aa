//! Verification of bearer tokens: the signature with the one algorithm the deployment uses
//! (a token signed otherwise is refused, so an RS256 public key can never serve as an HS256
//! secret), expiry, and for service tokens a known identity and this service as audience.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tonic::Status;

use super::settings::{JwtKeys, read};
use super::{Claims, Identity, Role};
use crate::config::{CommonConfig, ServiceKind};

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
        Self::from_keys(&JwtKeys::of(config), audience)
    }

    /// RS256 with the public key file when one is set, HS256 with the secret otherwise.
    pub fn from_keys(keys: &JwtKeys, audience: ServiceKind) -> anyhow::Result<Self> {
        match &keys.jwt_public_key_file {
            Some(path) => Self::rs256_pem(&read(path)?, audience),
            None => Ok(Self::hs256(keys.secret().as_bytes(), audience)),
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
            Status::unauthenticated(format!("invalid bearer token: {}", kind_name(&error)))
        })
}

/// The PEM blocks of a file that may hold several.
pub(super) fn pem_blocks(pem: &[u8]) -> Vec<String> {
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

/// A short reason that says nothing about the token's content.
fn kind_name(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "wrong algorithm",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        ErrorKind::Json(_) => "malformed claims",
        _ => "malformed",
    }
}
