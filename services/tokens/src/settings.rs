//! The tokens service's own settings, flattened beside the common ones.

use std::time::Duration;

use crate::crypto::Keyring;
use crate::secret::Secret;

pub const DEFAULT_REFRESH_WINDOW_SECS: u64 = 60;
pub const DEFAULT_AUTHORIZATION_TTL_SECS: u64 = 600;
pub const DEFAULT_PROVIDER_TIMEOUT_SECS: u64 = 10;

/// Larger settings are taken as these (docs/tokens.md, "Limits"): time arithmetic on them
/// never overflows, and no wait is longer than an operator could mean.
pub const MAX_REFRESH_WINDOW_SECS: u64 = 24 * 60 * 60;
pub const MAX_AUTHORIZATION_TTL_SECS: u64 = 24 * 60 * 60;
pub const MAX_PROVIDER_TIMEOUT_SECS: u64 = 5 * 60;

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Keys that encrypt secrets at rest: `KEY_ID:BASE64` pairs separated by commas, each key
    /// 32 random bytes (`openssl rand -base64 32`). Values sealed under any of them open;
    /// new values are sealed under the active one. Without keys, a development key is used
    /// and the service warns at start.
    #[arg(
        long = "tokens-encryption-keys",
        env = "TRELLIS_TOKENS_ENCRYPTION_KEYS",
        hide_env_values = true
    )]
    pub encryption_keys: Option<Secret>,

    /// The key id that seals new values; may be omitted when there is one key.
    #[arg(long = "tokens-active-key-id", env = "TRELLIS_TOKENS_ACTIVE_KEY_ID")]
    pub active_key_id: Option<String>,

    /// An access token expiring within this many seconds is refreshed before it is handed out.
    #[arg(
        long = "tokens-refresh-window-secs",
        env = "TRELLIS_TOKENS_REFRESH_WINDOW_SECS",
        default_value_t = DEFAULT_REFRESH_WINDOW_SECS
    )]
    pub refresh_window_secs: u64,

    /// How long a begun authorization may wait for its completion.
    #[arg(
        long = "tokens-authorization-ttl-secs",
        env = "TRELLIS_TOKENS_AUTHORIZATION_TTL_SECS",
        default_value_t = DEFAULT_AUTHORIZATION_TTL_SECS
    )]
    pub authorization_ttl_secs: u64,

    /// Prefixes that a `redirect_uri` of BeginAuthorization must start with, separated by
    /// commas (e.g. `https://app.example.com/oauth/callback`). Empty allows any http(s) URL.
    #[arg(
        long = "tokens-redirect-uris",
        env = "TRELLIS_TOKENS_REDIRECT_URIS",
        value_delimiter = ','
    )]
    pub allowed_redirect_uris: Vec<String>,

    /// The front end's callback, used when BeginAuthorization leaves `redirect_uri` empty.
    #[arg(
        long = "tokens-default-redirect-uri",
        env = "TRELLIS_TOKENS_DEFAULT_REDIRECT_URI"
    )]
    pub default_redirect_uri: Option<String>,

    /// Longest time one call to a provider (token, revocation, userinfo endpoint) may take.
    #[arg(
        long = "tokens-provider-timeout-secs",
        env = "TRELLIS_TOKENS_PROVIDER_TIMEOUT_SECS",
        default_value_t = DEFAULT_PROVIDER_TIMEOUT_SECS
    )]
    pub provider_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            encryption_keys: None,
            active_key_id: None,
            refresh_window_secs: DEFAULT_REFRESH_WINDOW_SECS,
            authorization_ttl_secs: DEFAULT_AUTHORIZATION_TTL_SECS,
            allowed_redirect_uris: Vec::new(),
            default_redirect_uri: None,
            provider_timeout_secs: DEFAULT_PROVIDER_TIMEOUT_SECS,
        }
    }
}

impl Settings {
    /// The configured keyring, or the development key when none is configured.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        match &self.encryption_keys {
            Some(keys) if !keys.is_empty() => {
                Keyring::parse(keys.expose(), self.active_key_id.as_deref())
            }
            _ => Ok(Keyring::development()),
        }
    }

    pub fn refresh_window(&self) -> Duration {
        Duration::from_secs(self.refresh_window_secs.min(MAX_REFRESH_WINDOW_SECS))
    }

    pub fn authorization_ttl(&self) -> Duration {
        Duration::from_secs(
            self.authorization_ttl_secs
                .clamp(1, MAX_AUTHORIZATION_TTL_SECS),
        )
    }

    pub fn provider_timeout(&self) -> Duration {
        Duration::from_secs(
            self.provider_timeout_secs
                .clamp(1, MAX_PROVIDER_TIMEOUT_SECS),
        )
    }
}
