//! The imports service's own settings, flattened beside the common ones (README
//! "Configuration"). Each is an environment variable and a flag (`trellis-imports --help`).

use std::time::Duration;

pub const DEFAULT_PLAN_TTL_SECS: u64 = 3600;
pub const DEFAULT_RECOVERY_INTERVAL_SECS: u64 = 30;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
pub const DEFAULT_EXECUTE_WAIT_SECS: u64 = 10;

/// A larger `TRELLIS_IMPORTS_EXECUTE_WAIT_SECS` is taken as this, with a warning at start
/// (docs/imports.md, "Limits"): the deadline of a wait is always a time that can be
/// computed, and its `lock_timeout` one that PostgreSQL takes.
pub const MAX_EXECUTE_WAIT_SECS: u64 = 60 * 60;

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// How long a plan can be executed after it was made.
    #[arg(
        long = "imports-plan-ttl-secs",
        env = "TRELLIS_IMPORTS_PLAN_TTL_SECS",
        default_value_t = DEFAULT_PLAN_TTL_SECS
    )]
    pub plan_ttl_secs: u64,

    /// Seconds between passes of the recovery loop, which finishes (or compensates) imports
    /// that a crash or a failing peer left unfinished. It also runs once at start.
    #[arg(
        long = "imports-recovery-interval-secs",
        env = "TRELLIS_IMPORTS_RECOVERY_INTERVAL_SECS",
        default_value_t = DEFAULT_RECOVERY_INTERVAL_SECS
    )]
    pub recovery_interval_secs: u64,

    /// Attempts of a step that keeps failing transiently (peer unavailable) before the import
    /// is compensated.
    #[arg(
        long = "imports-max-attempts",
        env = "TRELLIS_IMPORTS_MAX_ATTEMPTS",
        default_value_t = DEFAULT_MAX_ATTEMPTS
    )]
    pub max_attempts: u32,

    /// How long ExecuteImportPlan and ReimportInstance wait for another replica (or the
    /// recovery loop) that is running the same import, before answering with its state;
    /// zero does not wait, and at most an hour is taken.
    #[arg(
        long = "imports-execute-wait-secs",
        env = "TRELLIS_IMPORTS_EXECUTE_WAIT_SECS",
        default_value_t = DEFAULT_EXECUTE_WAIT_SECS
    )]
    pub execute_wait_secs: u64,

    /// TEST ONLY. Aborts the process right after the import saga reaches this step, to
    /// prove that a restarted service finishes the import and that a retry makes no second
    /// copy. Never set it in production.
    #[arg(
        long = "imports-fail-after-step",
        env = "TRELLIS_IMPORTS_FAIL_AFTER_STEP",
        value_enum
    )]
    pub fail_after_step: Option<FailPoint>,
}

/// Where the test-only fault injection aborts the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailPoint {
    /// The library answered CloneAssets; its answer is not recorded yet.
    Cloning,
    /// The clone's id mapping is recorded.
    Cloned,
    /// Token grants and credential copies are made and recorded.
    Granted,
    /// The links are recorded and the import succeeded; the caller has no answer yet.
    Linked,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            plan_ttl_secs: DEFAULT_PLAN_TTL_SECS,
            recovery_interval_secs: DEFAULT_RECOVERY_INTERVAL_SECS,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            execute_wait_secs: DEFAULT_EXECUTE_WAIT_SECS,
            fail_after_step: None,
        }
    }
}

impl Settings {
    pub fn plan_ttl(&self) -> Duration {
        Duration::from_secs(self.plan_ttl_secs.max(1))
    }

    pub fn recovery_interval(&self) -> Duration {
        Duration::from_secs(self.recovery_interval_secs.max(1))
    }

    pub fn execute_wait(&self) -> Duration {
        Duration::from_secs(self.execute_wait_secs.min(MAX_EXECUTE_WAIT_SECS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execute_wait_is_taken_within_an_hour() {
        let wait = |secs| {
            Settings {
                execute_wait_secs: secs,
                ..Settings::default()
            }
            .execute_wait()
        };
        assert_eq!(wait(0), Duration::ZERO);
        assert_eq!(wait(10), Duration::from_secs(10));
        assert_eq!(wait(MAX_EXECUTE_WAIT_SECS), Duration::from_secs(3600));
        assert_eq!(wait(MAX_EXECUTE_WAIT_SECS + 1), Duration::from_secs(3600));
        assert_eq!(wait(u64::MAX), Duration::from_secs(3600));
    }
}
