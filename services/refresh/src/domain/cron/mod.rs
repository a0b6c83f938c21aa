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
//!
//! Why hand-written rather than `croner` (or the `cron` crate): the evaluator supports
//! exactly the subset DESIGN.md allows for report schedules (the fields, names, steps and
//! shorthands above, no `L`, `W` or `#`, which `croner` would accept and a schedule must
//! refuse), evaluates in the schedule's `chrono_tz` zone with the daylight-saving rules
//! stated above (skipped times shift, repeated times fire once), and reports errors per
//! field in the words the API returns as field violations. Its tests (`tests.rs`) pin each
//! of these; adopting a crate would mean re-checking its dialect and its DST behaviour
//! against them and translating its errors, for no gain.

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
        start
            .iter_days()
            .take(366)
            .any(|date| self.matches_day(date))
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
        let today = after.with_timezone(&zone).date_naive();
        let first = today.pred_opt().unwrap_or(today);
        for date in first.iter_days().take(HORIZON_DAYS as usize) {
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

impl Cron {
    /// The shortest time between two firings, read on the wall clock (a daylight-saving
    /// change moves a skipped time onto a later one, never two firings closer).
    pub fn shortest_interval(&self) -> std::time::Duration {
        let mut times = Vec::new();
        for hour in bits(u64::from(self.hours), 23) {
            for minute in bits(self.minutes, 59) {
                for second in bits(self.seconds, 59) {
                    times.push(u64::from(hour * 3600 + minute * 60 + second));
                }
            }
        }
        let mut shortest = times
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .min()
            .unwrap_or(u64::MAX);
        if let (Some(first), Some(last), Some(days)) =
            (times.first(), times.last(), self.shortest_day_gap())
        {
            shortest = shortest.min(days * 86_400 + first - last);
        }
        std::time::Duration::from_secs(shortest)
    }

    /// The fewest days from one matching day to the next, over a leap cycle.
    fn shortest_day_gap(&self) -> Option<u64> {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        let mut previous: Option<u64> = None;
        let mut shortest: Option<u64> = None;
        for (day, date) in (0u64..).zip(start.iter_days().take(HORIZON_DAYS as usize)) {
            if !self.matches_day(date) {
                continue;
            }
            if let Some(previous) = previous {
                let gap = day - previous;
                shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
                if gap == 1 {
                    break;
                }
            }
            previous = Some(day);
        }
        shortest
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
            let before = local
                .checked_sub_signed(Duration::hours(3))
                .unwrap_or(local);
            let offset = zone
                .from_local_datetime(&before)
                .earliest()
                .map(|time| time.offset().fix())
                .unwrap_or_else(|| zone.offset_from_utc_datetime(&local).fix());
            let utc = local
                .checked_sub_signed(Duration::seconds(i64::from(offset.local_minus_utc())))
                .unwrap_or(local);
            Utc.from_utc_datetime(&utc)
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
mod tests;
