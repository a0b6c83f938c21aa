//! Cron expressions of report schedules, read as Vixie cron reads them.
//!
//! Five fields (`minute hour day-of-month month day-of-week`) or six with leading seconds,
//! each `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those; months and
//! weekdays also by their English three-letter names; weekday 0 and 7 are Sunday; `?` is `*`
//! in the day fields. When both day fields are restricted a day matches either (Vixie's
//! rule: `0 8 1 * Mon` is the 1st and every Monday). `@hourly`, `@daily`, `@weekly`,
//! `@monthly` and `@yearly` are shorthands. Times are read in the schedule's time zone: a
//! time skipped by a daylight-saving change fires at the same instant the clock would have
//! shown it without the change (02:30 becomes 03:30), a time repeated fires once.
//!
//! Errors name the field by its position in the expression, so a caller sees which part
//! to fix (`field 2 (hour): 25 is out of range 0-23`).

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead a next time is searched: long enough for `0 0 29 2 *` (every leap year).
const HORIZON_DAYS: i64 = 8 * 366;

/// A parsed cron expression: the set of allowed values of every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    /// Whether each day field was restricted (did not start with `*` or `?`).
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

/// Why an expression is not a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// 1-based position of the field at fault and its name, when one field is.
    pub field: Option<(usize, &'static str)>,
    pub message: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some((position, name)) => write!(f, "field {position} ({name}): {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Whether `?` may stand for `*`.
    day: bool,
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    day: false,
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    day: false,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    day: false,
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    day: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    day: false,
};
/// 7 is Sunday as well as 0; folded onto 0 after parsing.
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    day: true,
};

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let expression = expression.trim();
        let expanded = match expression.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * 0",
            "@daily" | "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            _ if expression.starts_with('@') => {
                return Err(CronError {
                    field: None,
                    message: format!(
                        "unknown shorthand `{expression}`; use @yearly, @monthly, @weekly, @daily or @hourly"
                    ),
                });
            }
            _ => expression,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (texts, specs): (Vec<&str>, Vec<&Field>) = match fields.len() {
            5 => (
                std::iter::once("0").chain(fields.iter().copied()).collect(),
                vec![&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK],
            ),
            6 => (
                fields.clone(),
                vec![&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK],
            ),
            n => {
                return Err(CronError {
                    field: None,
                    message: format!(
                        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found {n}"
                    ),
                });
            }
        };
        // Positions as the caller wrote them: with five fields, the minute is field 1.
        let offset = if fields.len() == 5 { 0 } else { 1 };
        let mut sets = [0u64; 6];
        for (index, (text, spec)) in texts.iter().zip(&specs).enumerate() {
            if fields.len() == 5 && index == 0 {
                sets[0] = 1;
                continue;
            }
            let position = index + offset;
            sets[index] = parse_field(text, spec).map_err(|message| CronError {
                field: Some((position, spec.name)),
                message,
            })?;
        }
        let mut days_of_week = sets[5];
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        let restricted = |text: &str| !(text.starts_with('*') || text == "?");
        let cron = Cron {
            seconds: sets[0],
            minutes: sets[1],
            hours: sets[2] as u32,
            days_of_month: sets[3] as u32,
            months: sets[4] as u16,
            days_of_week: days_of_week as u8,
            day_of_month_restricted: restricted(texts[3]),
            day_of_week_restricted: restricted(texts[5]),
        };
        if !cron.any_day_in_a_leap_cycle() {
            return Err(CronError {
                field: None,
                message: "the day of month never occurs in the chosen months (such as 30 February)"
                    .into(),
            });
        }
        Ok(cron)
    }

    /// Whether some date matches at all (a restricted day of week always finds one).
    fn any_day_in_a_leap_cycle(&self) -> bool {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        (0..366).any(|day| self.matches_day(start + Duration::days(day)))
    }

    fn matches_day(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day_of_month = self.days_of_month & (1 << date.day()) != 0;
        let day_of_week = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.day_of_month_restricted && self.day_of_week_restricted {
            day_of_month || day_of_week
        } else {
            day_of_month && day_of_week
        }
    }

    /// The first time strictly after `after` that the expression names, read in `zone`.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        // A day before, so that a daylight-saving change cannot hide a candidate.
        let first = after.with_timezone(&zone).date_naive() - Duration::days(1);
        for offset in 0..HORIZON_DAYS {
            let date = first + Duration::days(offset);
            if !self.matches_day(date) || at(zone, date, 23, 59, 59) <= after {
                continue;
            }
            for hour in bits(u64::from(self.hours), 23) {
                if at(zone, date, hour, 59, 59) <= after {
                    continue;
                }
                for minute in bits(self.minutes, 59) {
                    if at(zone, date, hour, minute, 59) <= after {
                        continue;
                    }
                    for second in bits(self.seconds, 59) {
                        let instant = at(zone, date, hour, minute, second);
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
            }
        }
        None
    }
}

fn bits(set: u64, max: u32) -> impl Iterator<Item = u32> {
    (0..=max).filter(move |bit| set & (1 << bit) != 0)
}

/// The instant a wall-clock time in `zone` names: the earlier one when the time occurs
/// twice, and for a time skipped by a daylight-saving change, the instant it would have been
/// under the offset in force before the change.
fn at(zone: Tz, date: NaiveDate, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    let local: NaiveDateTime = date
        .and_hms_opt(hour, minute, second)
        .expect("cron values are valid times");
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(time) => time.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let before = local - Duration::hours(3);
            let offset = zone
                .from_local_datetime(&before)
                .earliest()
                .map(|time| time.offset().fix())
                .unwrap_or_else(|| zone.offset_from_utc_datetime(&local).fix());
            Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset.local_minus_utc()))))
        }
    }
}

/// The set of values `text` allows, as bits.
fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("`{text}` has an empty list item"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| (1..=field.max.max(1)).contains(s))
                    .ok_or_else(|| {
                        format!("`{step}` is not a step between 1 and {}", field.max.max(1))
                    })?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" || (field.day && range == "?") {
            (field.min, field.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (value(low, field)?, value(high, field)?);
            if low > high {
                return Err(format!("the range `{range}` runs backwards"));
            }
            (low, high)
        } else {
            let low = value(range, field)?;
            // `5/15` means from 5 to the end, every 15.
            (low, if step.is_some() { field.max } else { low })
        };
        let step = step.unwrap_or(1) as usize;
        for v in (low..=high).step_by(step) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Ok(number) = text.parse::<u32>() {
        return if (field.min..=field.max).contains(&number) {
            Ok(number)
        } else {
            Err(format!(
                "{number} is out of range {}-{}",
                field.min, field.max
            ))
        };
    }
    let upper = text.to_ascii_uppercase();
    match field.names.iter().position(|name| *name == upper) {
        // Month names count from 1, weekday names from 0 (Sunday).
        Some(index) => Ok(index as u32 + field.min),
        None if field.names.is_empty() => Err(format!("`{text}` is not a number")),
        None => Err(format!(
            "`{text}` is neither a number nor one of {}",
            field.names.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str, zone: Tz) -> String {
        Cron::parse(expression)
            .unwrap()
            .next_after(utc(after), zone)
            .unwrap()
            .to_rfc3339()
    }

    #[test]
    fn five_fields_fire_on_the_minute_and_six_on_the_second() {
        assert_eq!(
            next("0 8 * * Mon-Fri", "2026-12-04T09:00:00Z", Tz::UTC),
            "2026-12-07T08:00:00+00:00",
            "Friday after eight: Monday"
        );
        assert_eq!(
            next("*/5 * * * * *", "2026-12-04T09:00:03Z", Tz::UTC),
            "2026-12-04T09:00:05+00:00"
        );
        assert_eq!(
            next("30 * * * *", "2026-12-04T09:30:00Z", Tz::UTC),
            "2026-12-04T10:30:00+00:00",
            "strictly after"
        );
        assert_eq!(
            next("@monthly", "2026-12-04T09:00:00Z", Tz::UTC),
            "2027-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn weekdays_count_from_sunday_and_seven_is_sunday_too() {
        // 2026-12-06 is a Sunday.
        for expression in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun"] {
            assert_eq!(
                next(expression, "2026-12-04T00:00:00Z", Tz::UTC),
                "2026-12-06T09:00:00+00:00",
                "{expression}"
            );
        }
        assert_eq!(
            next("0 9 * * 1", "2026-12-04T00:00:00Z", Tz::UTC),
            "2026-12-07T09:00:00+00:00",
            "1 is Monday"
        );
    }

    #[test]
    fn restricted_day_fields_match_either_as_vixie_cron_does() {
        // The 1st, or any Monday: from Wednesday 2026-12-02 the next is Monday the 7th.
        assert_eq!(
            next("0 8 1 * Mon", "2026-12-02T00:00:00Z", Tz::UTC),
            "2026-12-07T08:00:00+00:00"
        );
        // A step from `*` does not restrict: every other day that is also a Monday.
        assert_eq!(
            next("0 8 */2 * Mon", "2026-12-02T00:00:00Z", Tz::UTC),
            "2026-12-07T08:00:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z", Tz::UTC),
            "2028-02-29T00:00:00+00:00"
        );
    }

    #[test]
    fn times_are_read_in_the_zone_across_daylight_saving_changes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            next("0 8 * * *", "2026-12-04T09:00:00Z", berlin),
            "2026-12-05T07:00:00+00:00",
            "08:00 CET"
        );
        // 2026-03-29 02:30 does not exist in Berlin: it fires at 03:30 CEST (01:30 UTC).
        assert_eq!(
            next("30 2 * * *", "2026-03-28T12:00:00Z", berlin),
            "2026-03-29T01:30:00+00:00"
        );
        // 2026-10-25 02:30 happens twice: it fires once, the first time (CEST).
        assert_eq!(
            next("30 2 * * *", "2026-10-24T12:00:00Z", berlin),
            "2026-10-25T00:30:00+00:00"
        );
        assert_eq!(
            next("30 2 * * *", "2026-10-25T00:30:00Z", berlin),
            "2026-10-26T01:30:00+00:00"
        );
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let error = |expression: &str| Cron::parse(expression).unwrap_err().to_string();
        assert_eq!(
            error("0 25 * * *"),
            "field 2 (hour): 25 is out of range 0-23"
        );
        assert_eq!(
            error("61 0 25 * * *"),
            "field 1 (second): 61 is out of range 0-59"
        );
        assert_eq!(
            error("0 8 * * Mon-Frx"),
            "field 5 (day of week): `Frx` is neither a number nor one of SUN, MON, TUE, WED, THU, FRI, SAT"
        );
        assert_eq!(
            error("0 8 * 12-1 *"),
            "field 4 (month): the range `12-1` runs backwards"
        );
        assert_eq!(
            error("*/0 * * * *"),
            "field 1 (minute): `0` is not a step between 1 and 59"
        );
        assert_eq!(
            error("1,,2 * * * *"),
            "field 1 (minute): `1,,2` has an empty list item"
        );
        assert!(error("* * *").starts_with("expected 5 fields"));
        assert!(error("0 0 30 2 *").contains("never occurs"));
        assert!(error("@sometimes").contains("unknown shorthand"));
    }
}
