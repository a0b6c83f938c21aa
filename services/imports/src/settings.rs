//! The imports service's own settings, flattened beside the common ones (README
//! "Configuration"). Each is an environment variable and a flag (`trellis-imports --help`);
//! durations are written `30s`, `5m`, `1h` (a bare number is seconds).

use std::time::Duration;

use trellis_platform::config::parse_duration;

pub const DEFAULT_PLAN_TTL: Duration = Duration::from_secs(3600);
pub const DEFAULT_RECOVERY_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
pub const DEFAULT_EXECUTE_WAIT: Duration = Duration::from_secs(10);

/// A longer `TRELLIS_IMPORTS_EXECUTE_WAIT` is taken as this, with a warning at start
/// (docs/imports.md, "Limits"): the deadline of a wait is always a time that can be
/// computed, and its `lock_timeout` one that PostgreSQL takes.
pub const MAX_EXECUTE_WAIT: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// How long a plan can be executed after it was made.
    #[arg(long = "imports-plan-ttl", env = "TRELLIS_IMPORTS_PLAN_TTL", default_value = "1h", value_parser = parse_duration)]
    pub plan_ttl: Duration,

    /// Time between passes of the recovery loop, which finishes (or compensates) imports
    /// that a crash or a failing peer left unfinished. It also runs once at start.
    #[arg(long = "imports-recovery-interval", env = "TRELLIS_IMPORTS_RECOVERY_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub recovery_interval: Duration,

    /// Attempts of a step that keeps failing transiently (peer unavailable) before the import
    /// is compensated.
    #[arg(long = "imports-max-attempts", env = "TRELLIS_IMPORTS_MAX_ATTEMPTS", default_value_t = DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,

    /// How long ExecuteImportPlan and ReimportInstance wait for another replica (or the
    /// recovery loop) that is running the same import, before answering with its state;
    /// zero does not wait, and at most an hour is taken.
    #[arg(long = "imports-execute-wait", env = "TRELLIS_IMPORTS_EXECUTE_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub execute_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            plan_ttl: DEFAULT_PLAN_TTL,
            recovery_interval: DEFAULT_RECOVERY_INTERVAL,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            execute_wait: DEFAULT_EXECUTE_WAIT,
        }
    }
}

impl Settings {
    /// At least a second.
    pub fn plan_ttl(&self) -> Duration {
        self.plan_ttl.max(Duration::from_secs(1))
    }

    /// At least a second.
    pub fn recovery_interval(&self) -> Duration {
        self.recovery_interval.max(Duration::from_secs(1))
    }

    /// At most [`MAX_EXECUTE_WAIT`].
    pub fn execute_wait(&self) -> Duration {
        self.execute_wait.min(MAX_EXECUTE_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execute_wait_is_taken_within_an_hour() {
        let wait = |secs| {
            Settings {
                execute_wait: Duration::from_secs(secs),
                ..Settings::default()
            }
            .execute_wait()
        };
        assert_eq!(wait(0), Duration::ZERO);
        assert_eq!(wait(10), Duration::from_secs(10));
        assert_eq!(wait(MAX_EXECUTE_WAIT.as_secs()), Duration::from_secs(3600));
        assert_eq!(
            wait(MAX_EXECUTE_WAIT.as_secs() + 1),
            Duration::from_secs(3600)
        );
        assert_eq!(wait(u64::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn durations_are_written_with_a_unit() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        let settings = Cli::parse_from(["test", "--imports-plan-ttl", "5m"]).settings;
        assert_eq!(settings.plan_ttl, Duration::from_secs(300));
        assert_eq!(settings.execute_wait, DEFAULT_EXECUTE_WAIT);
        assert_eq!(settings.recovery_interval, DEFAULT_RECOVERY_INTERVAL);
    }
}
