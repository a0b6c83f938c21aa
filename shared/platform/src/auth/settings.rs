//! Which keys sign and verify tokens, and the check that refuses public or weak ones.
//!
//! [`JwtKeys`] are the three key settings on their own, so a tool that only mints tokens
//! (`trellis-token`) reads them from the same environment variables as the servers without
//! taking every server setting.

use std::path::{Path, PathBuf};

use crate::config::CommonConfig;

/// Signs development tokens when no secret is configured. A service accepts it only in
/// development mode (`TRELLIS_DEVELOPMENT=true`).
pub const DEVELOPMENT_SECRET: &str = "trellis-development-secret-not-for-production";

/// The shortest HS256 secret a service accepts outside development mode (RFC 7518 3.2:
/// a key at least as long as the hash output).
pub const MIN_SECRET_BYTES: usize = 32;

/// Secrets that ship in this repository's manifests and docs and so are public.
const PLACEHOLDERS: [&str; 3] = [DEVELOPMENT_SECRET, "replace-me", "changeme"];

/// The JWT key settings, under the names and variables [`CommonConfig`] gives them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct JwtKeys {
    /// HS256 secret that signs and verifies JWTs. Without one, the development secret is
    /// used.
    #[arg(long, env = "TRELLIS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file of RS256 public keys; when set, tokens are verified with them instead of the
    /// secret, so they must be signed with `TRELLIS_JWT_PRIVATE_KEY_FILE`.
    #[arg(long, env = "TRELLIS_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// PEM file of an RS256 private key (PKCS#1 or PKCS#8) that signs tokens.
    #[arg(long, env = "TRELLIS_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
}

impl JwtKeys {
    /// The key settings of a server's configuration.
    pub fn of(config: &CommonConfig) -> Self {
        Self {
            jwt_secret: config.jwt_secret.clone(),
            jwt_public_key_file: config.jwt_public_key_file.clone(),
            jwt_private_key_file: config.jwt_private_key_file.clone(),
        }
    }

    /// The HS256 secret: the configured one, or the development secret when none is.
    pub(super) fn secret(&self) -> &str {
        match self.jwt_secret.as_deref() {
            Some(secret) if !secret.is_empty() => secret,
            _ => DEVELOPMENT_SECRET,
        }
    }
}

/// The bytes of a key file, or an error that names it.
pub(super) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))
}

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
