//! The refresh service's settings, beside the common ones (README "Configuration"). Every
//! one is an environment variable and a flag (`trellis-refresh --help`). Durations are
//! written like `500ms`, `30s`, `5m`, `6h`.

use std::time::Duration;

use trellis_platform::config;
use trellis_platform::validate::MAX_JSON_DEPTH;

use crate::domain::backoff::{BackoffPolicy, BackoffSteps};
use crate::fetch::parse::{Bounds, MAX_CSV_COLUMNS, MAX_PARSED_MEMORY};

mod host_limits;
#[cfg(test)]
mod tests;
mod values;

pub use host_limits::HostLimits;
pub use values::{RetryWaits, Secret, SmtpTls};

/// The largest GetCachedData answer the library decodes (its `MAX_CACHED_DATA_BYTES`).
pub const LIBRARY_DECODE_LIMIT: u64 = 16 * 1024 * 1024;

/// The largest `TRELLIS_REFRESH_MAX_CACHED_BYTES`: the data and what accompanies it in a
/// GetCachedData answer stay within what the library decodes.
pub const MAX_CACHED_BYTES_LIMIT: u64 = LIBRARY_DECODE_LIMIT - crate::api::ANSWER_OVERHEAD;

/// The longest duration a setting may name: everything added to a time stays far inside
/// what PostgreSQL stores.
const MAX_SETTING_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Fetches one replica runs at once; 0 runs no workers (an API-only replica).
    #[arg(long, env = "TRELLIS_REFRESH_WORKERS", default_value_t = 8)]
    pub workers: usize,

    /// Jobs claimed in one statement, at most the free worker slots.
    #[arg(long, env = "TRELLIS_REFRESH_BATCH_SIZE", default_value_t = 8)]
    pub batch_size: usize,

    /// How long a claimed job is leased; a running worker renews it every third of it, and
    /// another replica reclaims the job once it has expired.
    #[arg(long, env = "TRELLIS_REFRESH_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,

    /// Longest wait between claim attempts when no notification arrives (the fallback for a
    /// lost notification).
    #[arg(long, env = "TRELLIS_REFRESH_POLL_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// How often the scheduler queues the due instances of active accounts (F2).
    #[arg(long, env = "TRELLIS_REFRESH_SCHEDULE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub schedule_interval: Duration,

    /// How long an account counts as active after its last recorded activity (F2).
    #[arg(long, env = "TRELLIS_REFRESH_ACTIVITY_WINDOW", default_value = "30m", value_parser = parse_duration)]
    pub activity_window: Duration,

    /// How often an active account's data sources are resolved through the library again,
    /// so that new data sources join the schedule without a new login.
    #[arg(long, env = "TRELLIS_REFRESH_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// A login of the same user in the same active account within this time of the last
    /// one that resolved its data sources resolves nothing again (RecordActivity still
    /// records the activity and answers at once); `0s` resolves at every login.
    #[arg(long, env = "TRELLIS_REFRESH_ACTIVITY_THROTTLE", default_value = "60s", value_parser = parse_duration)]
    pub activity_throttle: Duration,

    /// Backoff after consecutive failures (F8): `failures:duration` steps, e.g. the default
    /// waits 5 minutes after 1 failure, 30 after 3 and 6 hours after 5.
    #[arg(
        long,
        env = "TRELLIS_REFRESH_BACKOFF",
        default_value = "1:5m,3:30m,5:6h"
    )]
    pub backoff: BackoffSteps,

    /// Consecutive failures after which an instance is disabled until RefreshNow (F8).
    #[arg(long, env = "TRELLIS_REFRESH_DISABLE_AFTER", default_value_t = 20)]
    pub disable_after: u32,

    /// Longest time to establish a connection to a data source's server.
    #[arg(long, env = "TRELLIS_REFRESH_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Longest time one fetch may take, body included.
    #[arg(long = "fetch-timeout", env = "TRELLIS_REFRESH_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub fetch_timeout: Duration,

    /// Largest response body accepted, in bytes; a larger one fails the fetch.
    #[arg(long, env = "TRELLIS_REFRESH_MAX_RESPONSE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_response_bytes: u64,

    /// Largest fetched data kept, in bytes as GetCachedData sends it (a protobuf `Value`); a
    /// fetch whose data is larger fails. The default keeps every GetCachedData answer under
    /// the 4 MiB that gRPC clients decode by default; the library decodes answers of up to
    /// 16 MiB, so the service refuses to start with a value whose answers would pass that
    /// ([`MAX_CACHED_BYTES_LIMIT`]).
    #[arg(
        long,
        env = "TRELLIS_REFRESH_MAX_CACHED_BYTES",
        default_value_t = 4_000_000,
        value_parser = parse_max_cached_bytes
    )]
    pub max_cached_bytes: u64,

    /// Most rows of a fetched CSV (the header row included), and most items of any one
    /// array or object of a fetched JSON; a fetch with more fails.
    #[arg(long, env = "TRELLIS_REFRESH_MAX_ROWS", default_value_t = 100_000)]
    pub max_rows: usize,

    /// Longest deferral an API's Retry-After can ask for; a longer one (a huge number, a
    /// date years ahead) is cut to this.
    #[arg(long, env = "TRELLIS_REFRESH_MAX_RETRY_AFTER", default_value = "1h", value_parser = parse_duration)]
    pub max_retry_after: Duration,

    /// Longest time a worker spends on one group of jobs (resolving, credentials, limits,
    /// the fetch and storing it); past it the jobs fail and back off (F8).
    #[arg(long, env = "TRELLIS_REFRESH_JOB_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub job_timeout: Duration,

    /// Allow fetching from private, loopback and link-local addresses. Off in production:
    /// a data source must not reach the cluster's internal services.
    #[arg(long, env = "TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_networks: bool,

    /// Added to every rate limit's period, so that requests granted `period/n` apart still
    /// arrive at most `n` per period when the network delays some more than others (F5).
    #[arg(long, env = "TRELLIS_REFRESH_LIMIT_MARGIN", default_value = "100ms", value_parser = parse_duration)]
    pub limit_margin: Duration,

    /// Limits per API host, whatever the data source's auth (F5): a comma-separated list of
    /// `host=limit`, a limit being rates `N/PERIOD` joined by `+` and `max=N` requests at
    /// once, separated by `;`, e.g. `api.example.com=10/1s+5000/1d;max=4,other.example.org=max=2`.
    /// Each rate holds on its own; hosts match the URL's host without its port.
    #[arg(long, env = "TRELLIS_REFRESH_HOST_LIMITS", default_value = "")]
    pub host_limits: HostLimits,

    /// Longest wait of a paginated fetch for the API limits' next slot before a page; a
    /// longer wait fails the refresh (it backs off, F8) instead of holding a worker.
    #[arg(long, env = "TRELLIS_REFRESH_MAX_PAGE_WAIT", default_value = "30s", value_parser = parse_duration)]
    pub max_page_wait: Duration,

    /// How long the limits read from the token registry are reused.
    #[arg(long, env = "TRELLIS_REFRESH_LIMITS_CACHE", default_value = "30s", value_parser = parse_duration)]
    pub limits_cache: Duration,

    /// Deferral after an API's 429 without a usable Retry-After.
    #[arg(long, env = "TRELLIS_REFRESH_DEFAULT_RETRY_AFTER", default_value = "5s", value_parser = parse_duration)]
    pub default_retry_after: Duration,

    /// Deferrals in a row of one job by a 429 or an unavailable peer after which the next
    /// one counts as a failure instead, so that the instance backs off (F8).
    #[arg(long, env = "TRELLIS_REFRESH_MAX_DEFERRALS", default_value_t = 10)]
    pub max_deferrals: u32,

    /// How long finished jobs are kept for GetRefreshJob and status (request ids are the
    /// platform's to purge, after `TRELLIS_REQUEST_ID_RETENTION`).
    #[arg(long, env = "TRELLIS_REFRESH_JOB_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub job_retention: Duration,

    /// Longest wait of a replica's report loop between looks for due report work (F7); it
    /// also wakes when the next known step is due, and when a schedule changes.
    #[arg(long, env = "TRELLIS_REPORT_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub report_interval: Duration,

    /// Lead time of a report schedule that sets none: how long before a send the data
    /// sources of its Klips are queued at the front of the queue (F7).
    #[arg(long, env = "TRELLIS_REPORT_LEAD_TIME", default_value = "15m", value_parser = parse_duration)]
    pub report_lead_time: Duration,

    /// Shortest time between two sends of one report schedule: a cron expression that fires
    /// more often is refused.
    #[arg(long, env = "TRELLIS_REPORT_MIN_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub report_min_interval: Duration,

    /// Most report schedules one account may have.
    #[arg(long, env = "TRELLIS_REPORT_MAX_SCHEDULES", default_value_t = 100)]
    pub report_max_schedules: u32,

    /// How long a replica holds a report step (preparing or sending) before another replica
    /// may take it over.
    #[arg(long, env = "TRELLIS_REPORT_LEASE", default_value = "2m", value_parser = parse_duration)]
    pub report_lease: Duration,

    /// Waits before the retries of a report the mail relay did not take, one per retry,
    /// e.g. `1m,5m,30m,2h`; `none` never retries. A permanent refusal (5xx) is not retried.
    #[arg(
        long,
        env = "TRELLIS_REPORT_SEND_RETRIES",
        default_value = "1m,5m,30m,2h"
    )]
    pub report_send_retries: RetryWaits,

    /// Host name of the SMTP relay that reports are sent through.
    #[arg(long, env = "TRELLIS_SMTP_HOST", default_value = "localhost")]
    pub smtp_host: String,

    /// Port of the SMTP relay; by default 25 without TLS, 587 with STARTTLS, 465 with TLS.
    #[arg(long, env = "TRELLIS_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// How the connection to the relay is secured: `none` (a trusted local relay only),
    /// `starttls` (required, never falling back to plain text) or `tls` (TLS from the start).
    #[arg(long, env = "TRELLIS_SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,

    /// User name for the relay's authentication; none means no authentication.
    #[arg(long, env = "TRELLIS_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// Password for the relay's authentication. Never logged.
    #[arg(long, env = "TRELLIS_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,

    /// Sender of reports, e.g. `Trellis reports <reports@example.com>`.
    #[arg(
        long,
        env = "TRELLIS_SMTP_FROM",
        default_value = "Trellis reports <reports@localhost>"
    )]
    pub smtp_from: String,

    /// Longest wait for the relay: connecting, and each SMTP command.
    #[arg(long, env = "TRELLIS_SMTP_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub smtp_timeout: Duration,
}

impl Default for Settings {
    /// The defaults above (and whatever the environment sets).
    fn default() -> Self {
        trellis_platform::config::defaults()
    }
}

impl Settings {
    pub fn backoff_policy(&self) -> BackoffPolicy {
        BackoffPolicy::new(self.backoff.clone(), self.disable_after)
    }

    /// What fetched data may come to (nesting, rows, size as cached).
    pub fn fetch_bounds(&self) -> Bounds {
        Bounds {
            max_depth: MAX_JSON_DEPTH,
            max_rows: self.max_rows,
            max_bytes: self.max_cached_bytes,
            max_columns: MAX_CSV_COLUMNS,
            max_memory: MAX_PARSED_MEMORY,
        }
    }
}

fn parse_max_cached_bytes(text: &str) -> Result<u64, String> {
    let bytes = text
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("`{text}` is not a number of bytes"))?;
    check_max_cached_bytes(bytes)
}

fn check_max_cached_bytes(bytes: u64) -> Result<u64, String> {
    if bytes > MAX_CACHED_BYTES_LIMIT {
        return Err(format!(
            "TRELLIS_REFRESH_MAX_CACHED_BYTES is {bytes}, above the limit of {MAX_CACHED_BYTES_LIMIT} bytes: \
             a GetCachedData answer (the data and {} bytes about it) must stay within the {LIBRARY_DECODE_LIMIT} bytes (16 MiB) the library decodes",
            crate::api::ANSWER_OVERHEAD
        ));
    }
    Ok(bytes)
}

/// A duration as `trellis_platform::config::parse_duration` reads it (`250ms`, `30s`, `5m`,
/// `6h`, `1d`, or a bare number of seconds), of at most a hundred years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = config::parse_duration(text)?;
    if duration > MAX_SETTING_DURATION {
        return Err(format!(
            "`{}` is not a duration of at most 100 years",
            text.trim()
        ));
    }
    Ok(duration)
}
