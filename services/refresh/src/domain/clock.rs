//! Time arithmetic that cannot overflow. Durations reach this service from third parties
//! (Retry-After), from settings and from the database; `DateTime + Duration` panics when the
//! sum leaves chrono's range, so every such sum goes through [`after`] or [`before`], which
//! saturate at dates PostgreSQL can store.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The latest instant computed: the end of year 9999, far inside PostgreSQL's range.
pub fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The earliest instant computed: the start of year 1.
pub fn earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `duration` as a chrono span, saturating at the longest span chrono holds.
pub fn span(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// `time + duration`, at most [`latest`].
pub fn after(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    time.checked_add_signed(span(duration))
        .map_or(latest(), |sum| sum.min(latest()))
}

/// `time - duration`, at least [`earliest`].
pub fn before(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    time.checked_sub_signed(span(duration))
        .map_or(earliest(), |difference| difference.max(earliest()))
}

/// A number of milliseconds (from the database) as a span, saturating instead of panicking.
pub fn milliseconds(ms: i64) -> TimeDelta {
    TimeDelta::try_milliseconds(ms).unwrap_or(if ms < 0 {
        TimeDelta::MIN
    } else {
        TimeDelta::MAX
    })
}

/// Seconds as a `Duration` (from the database's clock arithmetic): `None` when negative,
/// not finite or too large.
pub fn seconds(value: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_instead_of_panicking() {
        let now = Utc::now();
        assert_eq!(after(now, Duration::MAX), latest());
        assert_eq!(after(latest(), Duration::from_secs(1)), latest());
        assert_eq!(before(now, Duration::MAX), earliest());
        assert_eq!(
            after(now, Duration::from_secs(5)) - now,
            TimeDelta::seconds(5)
        );
        assert_eq!(
            before(now, Duration::from_secs(5)),
            now - TimeDelta::seconds(5)
        );
        assert_eq!(milliseconds(i64::MIN), TimeDelta::MIN);
        assert_eq!(milliseconds(i64::MAX), TimeDelta::MAX);
        assert_eq!(milliseconds(1500), TimeDelta::milliseconds(1500));
        assert_eq!(seconds(f64::INFINITY), None);
        assert_eq!(seconds(f64::NAN), None);
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(1e30), None);
        assert_eq!(seconds(0.5), Some(Duration::from_millis(500)));
    }
}
