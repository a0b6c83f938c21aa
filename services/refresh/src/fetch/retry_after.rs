//! Reading a 429's Retry-After: a number of seconds or an HTTP date (RFC 9110, section
//! 10.2.3). The API decides what it sends, so nothing it sends may panic or defer without
//! bound: a wait is clamped to `TRELLIS_REFRESH_MAX_RETRY_AFTER` and never shorter than
//! [`MIN_RETRY_AFTER`], and a value that is neither (a negative number, `soon`) is told
//! apart, so the worker counts it as a failure instead of asking again every few seconds.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// The shortest deferral after a 429, whatever it says: `Retry-After: 0` (or a date in the
/// past) would otherwise send the request again at once, in a loop.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Characters of an unreadable Retry-After kept for the error message.
const SHOWN_CHARS: usize = 40;

/// What a 429's Retry-After header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    /// No header.
    Absent,
    /// Wait this long (not clamped yet).
    Wait(Duration),
    /// Neither a number of seconds nor a date, or negative; the value, shortened and made
    /// printable, for the error message.
    Unreadable(String),
}

impl RetryAfter {
    /// Reads the header's raw bytes, if any. An unreadable value is third-party text kept
    /// in the job's error: every one of `secrets` is redacted from it before it is
    /// shortened, so that no part of a secret the API echoes back is kept.
    pub fn read(value: Option<&[u8]>, now: DateTime<Utc>, secrets: &[&str]) -> Self {
        let Some(value) = value else {
            return RetryAfter::Absent;
        };
        let text = String::from_utf8_lossy(value);
        match parse(&text, now) {
            Some(wait) => RetryAfter::Wait(wait),
            None => RetryAfter::Unreadable(shown(&super::redact(&text, secrets))),
        }
    }
}

/// `wait` within `MIN_RETRY_AFTER..=max` (a `max` below the minimum counts as the minimum).
pub fn clamp(wait: Duration, max: Duration) -> Duration {
    wait.clamp(MIN_RETRY_AFTER, max.max(MIN_RETRY_AFTER))
}

/// Parses a Retry-After value: seconds (a fraction is accepted), or an HTTP date (the
/// preferred IMF-fixdate, or the obsolete RFC 850 and asctime forms). A date in the past
/// is no wait; a number too large for a `Duration` is the longest one. `None` for anything
/// else, negative numbers included.
pub fn parse(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    Some(at.signed_duration_since(now).to_std().unwrap_or_default())
}

fn shown(text: &str) -> String {
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(SHOWN_CHARS + 1)
        .collect();
    if printable.chars().count() > SHOWN_CHARS {
        format!(
            "{}…",
            printable.chars().take(SHOWN_CHARS).collect::<String>()
        )
    } else {
        printable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn seconds_and_dates_are_read() {
        assert_eq!(parse("2", now()), Some(Duration::from_secs(2)));
        assert_eq!(parse(" 0.5 ", now()), Some(Duration::from_millis(500)));
        assert_eq!(
            parse("Thu, 10 Dec 2026 12:00:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Thursday, 10-Dec-26 12:01:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse("Thu Dec 10 12:00:05 2026", now()),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn extremes_do_not_panic_and_are_clamped() {
        let hour = Duration::from_secs(3600);
        for huge in [
            "99999999999999",
            "1e20",
            "1e400",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let wait = parse(huge, now()).expect(huge);
            assert_eq!(clamp(wait, hour), hour, "{huge}");
        }
        assert_eq!(clamp(Duration::ZERO, hour), MIN_RETRY_AFTER);
        assert_eq!(
            clamp(Duration::from_secs(10), Duration::ZERO),
            MIN_RETRY_AFTER
        );
        for garbage in [
            "-5",
            "-0.1",
            "soon",
            "NaN",
            "",
            "Thu, 99 Dec 2026 12:00:00 GMT",
        ] {
            assert_eq!(parse(garbage, now()), None, "{garbage}");
        }
    }

    #[test]
    fn unreadable_values_are_kept_short_and_printable() {
        assert_eq!(RetryAfter::read(None, now(), &[]), RetryAfter::Absent);
        assert_eq!(
            RetryAfter::read(Some(b"3"), now(), &[]),
            RetryAfter::Wait(Duration::from_secs(3))
        );
        assert_eq!(
            RetryAfter::read(Some(b"soon\x01"), now(), &[]),
            RetryAfter::Unreadable("soon?".into())
        );
        let RetryAfter::Unreadable(long) =
            RetryAfter::read(Some("x".repeat(500).as_bytes()), now(), &[])
        else {
            panic!("unreadable");
        };
        assert_eq!(long.chars().count(), SHOWN_CHARS + 1);
    }

    #[test]
    fn an_echoed_secret_is_redacted_before_the_value_is_shortened() {
        // The secret straddles the cut: shortening first would keep its first part.
        let secret = "k3y-0123456789abcdef0123456789";
        let header = format!("{}{secret}", "y".repeat(SHOWN_CHARS - 10));
        let RetryAfter::Unreadable(shown) =
            RetryAfter::read(Some(header.as_bytes()), now(), &[secret])
        else {
            panic!("unreadable");
        };
        assert!(!shown.contains("k3y-01"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let RetryAfter::Unreadable(encoded) = RetryAfter::read(
            Some(b"soon k3y-0123456789abcdef0123456789"),
            now(),
            &[secret],
        ) else {
            panic!("unreadable");
        };
        assert_eq!(encoded, "soon [redacted]");
    }
}
