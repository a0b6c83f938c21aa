//! The time the library renders at: formulas read it (`TODAY()`, `NOW()`), render times and
//! data ages are measured with it, and the embed render cache decides with it whether a
//! render is still young enough (F6).
//!
//! The service runs on [`SystemClock`]; tests build it with a [`ManualClock`]
//! (`build_with`) and move time forward instead of waiting three hours.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Starts at the real time, so that it agrees with times other services record.
    pub fn starting_now() -> Self {
        Self::new(Utc::now())
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().expect("the clock") = now;
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("a representable duration");
        *self.now.lock().expect("the clock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("the clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(3 * 3600));
        assert_eq!(clock.now(), start + chrono::Duration::hours(3));
    }
}
