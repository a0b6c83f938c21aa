//! The tokens service's own settings, flattened beside the common ones.

use std::time::Duration;

use trellis_platform::config::parse_duration;

use crate::crypto::Keyring;
use crate::secret::Secret;

/// Larger settings are taken as these (docs/tokens.md, "Limits"): time arithmetic on them
/// never overflows, and no wait is longer than an operator could mean.
pub const MAX_REFRESH_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
pub const MAX_AUTHORIZATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const MAX_PROVIDER_TIMEOUT: Duration = Duration::from_secs(5 * 60);

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

    /// An access token expiring within this is refreshed before it is handed out.
    #[arg(long = "tokens-refresh-window", env = "TRELLIS_TOKENS_REFRESH_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub refresh_window: Duration,

    /// How long a begun authorization may wait for its completion.
    #[arg(long = "tokens-authorization-ttl", env = "TRELLIS_TOKENS_AUTHORIZATION_TTL", default_value = "10m", value_parser = parse_duration)]
    pub authorization_ttl: Duration,

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
    #[arg(long = "tokens-provider-timeout", env = "TRELLIS_TOKENS_PROVIDER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub provider_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            encryption_keys: None,
            active_key_id: None,
            refresh_window: Duration::from_secs(60),
            authorization_ttl: Duration::from_secs(10 * 60),
            allowed_redirect_uris: Vec::new(),
            default_redirect_uri: None,
            provider_timeout: Duration::from_secs(10),
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
        self.refresh_window.min(MAX_REFRESH_WINDOW)
    }

    pub fn authorization_ttl(&self) -> Duration {
        self.authorization_ttl
            .clamp(Duration::from_secs(1), MAX_AUTHORIZATION_TTL)
    }

    pub fn provider_timeout(&self) -> Duration {
        self.provider_timeout
            .clamp(Duration::from_secs(1), MAX_PROVIDER_TIMEOUT)
    }
}
