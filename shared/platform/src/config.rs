//! Configuration from environment variables, each also settable as a flag.
//!
//! Defaults follow DESIGN.md section 9: gRPC ports library 50051, imports 50052, tokens 50053,
//! refresh 50054; readable logs; migrations only through `migrate` unless
//! `TRELLIS_MIGRATE_AT_START=true`.

use std::net::SocketAddr;
use std::time::Duration;

/// The four services and their default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Library,
    Imports,
    Tokens,
    Refresh,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 4] = [
        ServiceKind::Library,
        ServiceKind::Imports,
        ServiceKind::Tokens,
        ServiceKind::Refresh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Library => "library",
            ServiceKind::Imports => "imports",
            ServiceKind::Tokens => "tokens",
            ServiceKind::Refresh => "refresh",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            ServiceKind::Library => 50051,
            ServiceKind::Imports => 50052,
            ServiceKind::Tokens => 50053,
            ServiceKind::Refresh => 50054,
        }
    }

    /// The database a service uses when `DATABASE_URL` is not set.
    pub fn default_database_url(self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/trellis_{}", self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Settings every service shares. Service-specific settings are flattened beside these.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonConfig {
    /// Address to serve gRPC on; defaults to 0.0.0.0 and the service's default port.
    #[arg(long, env = "TRELLIS_LISTEN_ADDR")]
    pub listen_addr: Option<SocketAddr>,

    /// PostgreSQL URL of this service's own database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(long, env = "TRELLIS_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// Apply pending migrations when the server starts (otherwise run `migrate`).
    #[arg(long, env = "TRELLIS_MIGRATE_AT_START", default_value_t = false, action = clap::ArgAction::Set)]
    pub migrate_at_start: bool,

    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// A tracing filter such as `info` or `trellis_library=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// HS256 secret that signs and verifies JWTs. Without one, a development secret is used
    /// and the service says so at start.
    #[arg(long, env = "TRELLIS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file of RS256 public keys (one or more blocks: the identity provider's and each
    /// service's); when set, tokens are verified with them instead of the secret.
    #[arg(long, env = "TRELLIS_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<std::path::PathBuf>,

    /// PEM file of this service's RS256 private key, which signs its service tokens; needed
    /// with `TRELLIS_JWT_PUBLIC_KEY_FILE`.
    #[arg(long, env = "TRELLIS_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<std::path::PathBuf>,

    /// Development mode: accept the public development JWT secret and encryption key
    /// (with a warning). Never set it in production; without it a service refuses to start
    /// on them.
    #[arg(long, env = "TRELLIS_DEVELOPMENT", default_value_t = false, action = clap::ArgAction::Set)]
    pub development: bool,

    /// How long a membership check (DESIGN.md section 3) is remembered; a removed
    /// membership stops working at most this long after.
    #[arg(long, env = "TRELLIS_MEMBERSHIP_CACHE", default_value = "30s", value_parser = parse_duration)]
    pub membership_cache: Duration,

    /// Longest time one RPC may run.
    #[arg(long, env = "TRELLIS_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Time between database checks that drive the health service's readiness.
    #[arg(long, env = "TRELLIS_READINESS_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub readiness_interval: Duration,

    /// How long answers to calls with a request id are kept for replay.
    #[arg(long, env = "TRELLIS_REQUEST_ID_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub request_id_retention: Duration,

    #[arg(
        long,
        env = "TRELLIS_LIBRARY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub library_url: String,

    #[arg(
        long,
        env = "TRELLIS_IMPORTS_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub imports_url: String,

    #[arg(
        long,
        env = "TRELLIS_TOKENS_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub tokens_url: String,

    #[arg(
        long,
        env = "TRELLIS_REFRESH_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub refresh_url: String,
}

impl CommonConfig {
    pub fn listen_addr(&self, service: ServiceKind) -> SocketAddr {
        self.listen_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], service.default_port())))
    }

    pub fn database_url(&self, service: ServiceKind) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| service.default_database_url())
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// At least an hour: a retry within the hour is always safe.
    pub fn request_id_retention(&self) -> Duration {
        self.request_id_retention.max(Duration::from_secs(3600))
    }

    pub fn membership_cache(&self) -> Duration {
        self.membership_cache
    }

    pub fn readiness_interval(&self) -> Duration {
        self.readiness_interval.max(Duration::from_secs(1))
    }
}

/// Settings as they are without flags: their defaults, and whatever the environment sets
/// (a service's `Settings::default()`, and what tests start from).
pub fn defaults<S: clap::Args>() -> S {
    #[derive(clap::Parser)]
    struct Only<S: clap::Args> {
        #[command(flatten)]
        settings: S,
    }
    <Only<S> as clap::Parser>::parse_from(["trellis"]).settings
}

/// The one style of every duration setting: `250ms`, `30s`, `5m`, `3h`, `7d`, or a bare
/// number of seconds. Settings name a duration without a unit (`TRELLIS_REQUEST_TIMEOUT=30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 15m or 3h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`")),
    };
    if !seconds.is_finite() || !(0.0..=1e12).contains(&seconds) {
        return Err(format!("`{text}` is not a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(10_800)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration(" 2 "), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e400").is_err());
        assert!(parse_duration("").is_err());
    }
}
