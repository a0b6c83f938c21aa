//! Date functions: DATE, DATEVALUE, TODAY, NOW (in mod.rs), YEAR/MONTH/DAY, DATEADD,
//! DATEDIFF, FORMATDATE. Dates are instants in UTC; every step that could leave chrono's
//! range is checked, so extreme inputs give errors rather than panics.

use std::fmt::Write;

use chrono::format::{Item, StrftimeItems};
use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};

use crate::broadcast::zip_with;
use crate::budget::Meter;
use crate::coerce::{self, mismatch, number, parse_date};
use crate::error::EvalError;
use crate::value::{Scalar, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl Unit {
    /// Length in seconds, for the units of fixed length.
    fn seconds(self) -> Option<i64> {
        match self {
            Unit::Seconds => Some(1),
            Unit::Minutes => Some(60),
            Unit::Hours => Some(3_600),
            Unit::Days => Some(86_400),
            Unit::Weeks => Some(604_800),
            Unit::Months | Unit::Years => None,
        }
    }

    fn months(self) -> i64 {
        if self == Unit::Years { 12 } else { 1 }
    }
}

pub(crate) fn parse_unit(text: &str) -> Result<Unit, String> {
    let unit = match text.trim().to_ascii_lowercase().as_str() {
        "second" | "seconds" => Unit::Seconds,
        "minute" | "minutes" => Unit::Minutes,
        "hour" | "hours" => Unit::Hours,
        "day" | "days" => Unit::Days,
        "week" | "weeks" => Unit::Weeks,
        "month" | "months" => Unit::Months,
        "year" | "years" => Unit::Years,
        _ => {
            return Err(format!(
                "unknown unit {text:?} (use seconds, minutes, hours, days, weeks, months or years)"
            ));
        }
    };
    Ok(unit)
}

/// Rejects strftime patterns chrono cannot use (formatting with one would fail).
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
        Err(format!("invalid date pattern {pattern:?}"))
    } else {
        Ok(())
    }
}

fn out_of_range(name: &str) -> EvalError {
    EvalError::new(format!("{name}: the date is outside the supported range"))
}

fn text_arg<'a>(value: &'a Scalar, name: &str, what: &str) -> Result<&'a str, EvalError> {
    match value {
        Scalar::Text(text) => Ok(text),
        other => Err(mismatch(name, what, other)),
    }
}

/// Unix seconds (fractions kept to the millisecond) as a date.
fn from_unix_seconds(seconds: f64, name: &str) -> Result<DateTime<Utc>, EvalError> {
    let millis = (seconds * 1000.0).round();
    // Well past chrono's ±262,000 years, but safely inside i64.
    if !millis.is_finite() || millis.abs() > 1e17 {
        return Err(out_of_range(name));
    }
    DateTime::from_timestamp_millis(millis as i64).ok_or_else(|| out_of_range(name))
}

/// Reads one value as a date: text in ISO form or in `pattern`, a number as Unix seconds.
fn to_date(value: &Scalar, pattern: Option<&Scalar>, name: &str) -> Result<Scalar, EvalError> {
    let date = match (value, pattern) {
        (Scalar::Null, _) => return Ok(Scalar::Null),
        (Scalar::Text(text), _) if text.trim().is_empty() => return Ok(Scalar::Null),
        (Scalar::Date(date), _) => *date,
        (Scalar::Number(n), _) => from_unix_seconds(*n, name)?,
        (Scalar::Text(text), None) => {
            parse_date(text).ok_or_else(|| mismatch(name, "a date", value))?
        }
        (Scalar::Text(text), Some(pattern)) => {
            let pattern = text_arg(pattern, name, "a date pattern")?;
            check_pattern(pattern)
                .map_err(|message| EvalError::new(format!("{name}: {message}")))?;
            parse_with_pattern(text.trim(), pattern).ok_or_else(|| {
                EvalError::new(format!(
                    "{name}: {} does not match the pattern {pattern:?}",
                    value.describe()
                ))
            })?
        }
        (other, _) => return Err(mismatch(name, "a date", other)),
    };
    Ok(Scalar::Date(date))
}

/// A pattern may describe a date with an offset, a local date and time (read as UTC), or a
/// date alone (midnight UTC).
fn parse_with_pattern(text: &str, pattern: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_str(text, pattern) {
        return Some(date.to_utc());
    }
    if let Ok(date) = NaiveDateTime::parse_from_str(text, pattern) {
        return Some(date.and_utc());
    }
    NaiveDate::parse_from_str(text, pattern)
        .ok()
        .map(|day| day.and_time(NaiveTime::MIN).and_utc())
}

pub(super) fn date(x: &Value, pattern: Option<&Value>, meter: &Meter) -> Result<Value, EvalError> {
    match pattern {
        None => zip_with(meter, [x], "DATE", |[x]| to_date(x, None, "DATE")),
        Some(pattern) => zip_with(meter, [x, pattern], "DATE", |[x, p]| {
            to_date(x, Some(p), "DATE")
        }),
    }
}

/// The date as Unix seconds, the inverse of `DATE(number)`.
pub(super) fn date_value(
    x: &Value,
    pattern: Option<&Value>,
    meter: &Meter,
) -> Result<Value, EvalError> {
    let seconds = |x: &Scalar, p: Option<&Scalar>| {
        Ok(match to_date(x, p, "DATEVALUE")? {
            Scalar::Date(date) => Scalar::Number(date.timestamp_millis() as f64 / 1000.0),
            other => other,
        })
    };
    match pattern {
        None => zip_with(meter, [x], "DATEVALUE", |[x]| seconds(x, None)),
        Some(pattern) => zip_with(meter, [x, pattern], "DATEVALUE", |[x, p]| {
            seconds(x, Some(p))
        }),
    }
}

pub(super) fn today(now: DateTime<Utc>) -> Value {
    Scalar::Date(now.date_naive().and_time(NaiveTime::MIN).and_utc()).into()
}

/// YEAR, MONTH or DAY of each date.
pub(super) fn part(
    x: &Value,
    name: &str,
    meter: &Meter,
    component: impl Fn(&DateTime<Utc>) -> f64,
) -> Result<Value, EvalError> {
    zip_with(meter, [x], name, |[x]| {
        Ok(coerce::date(x, name)?.map_or(Scalar::Null, |date| Scalar::Number(component(&date))))
    })
}

pub(super) fn date_add(
    date: &Value,
    amount: &Value,
    unit: &Value,
    meter: &Meter,
) -> Result<Value, EvalError> {
    const NAME: &str = "DATEADD";
    zip_with(meter, [date, amount, unit], NAME, |[date, amount, unit]| {
        let unit = parse_unit(text_arg(unit, NAME, "a unit")?)
            .map_err(|message| EvalError::new(format!("{NAME}: {message}")))?;
        let (Some(date), Some(amount)) = (coerce::date(date, NAME)?, number(amount, NAME)?) else {
            return Ok(Scalar::Null);
        };
        let moved = match unit.seconds() {
            Some(seconds) => {
                let millis = (amount * seconds as f64 * 1000.0).round();
                if !millis.is_finite() || millis.abs() > 1e17 {
                    return Err(out_of_range(NAME));
                }
                TimeDelta::try_milliseconds(millis as i64)
                    .and_then(|delta| date.checked_add_signed(delta))
            }
            None => {
                if amount.fract() != 0.0 {
                    return Err(EvalError::new(format!(
                        "{NAME}: months and years must be whole numbers, got {amount}"
                    )));
                }
                let months = amount * unit.months() as f64;
                if months.abs() > f64::from(u32::MAX) {
                    return Err(out_of_range(NAME));
                }
                let step = Months::new(months.abs() as u32);
                if months >= 0.0 {
                    date.checked_add_months(step)
                } else {
                    date.checked_sub_months(step)
                }
            }
        };
        moved.map(Scalar::Date).ok_or_else(|| out_of_range(NAME))
    })
}

/// `end - start` in whole units, truncated toward zero. Months and years count calendar
/// months completed: Jan 31 to Feb 28 is 0 months, Jan 15 to Feb 15 is 1.
pub(super) fn date_diff(
    start: &Value,
    end: &Value,
    unit: &Value,
    meter: &Meter,
) -> Result<Value, EvalError> {
    const NAME: &str = "DATEDIFF";
    zip_with(meter, [start, end, unit], NAME, |[start, end, unit]| {
        let unit = parse_unit(text_arg(unit, NAME, "a unit")?)
            .map_err(|message| EvalError::new(format!("{NAME}: {message}")))?;
        let (Some(start), Some(end)) = (coerce::date(start, NAME)?, coerce::date(end, NAME)?)
        else {
            return Ok(Scalar::Null);
        };
        let difference = match unit.seconds() {
            Some(seconds) => (end - start).num_milliseconds() / 1000 / seconds,
            None => whole_months(start, end) / unit.months(),
        };
        Ok(Scalar::Number(difference as f64))
    })
}

fn whole_months(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    let index = |date: DateTime<Utc>| i64::from(date.year()) * 12 + i64::from(date.month0());
    let within = |date: DateTime<Utc>| {
        (
            date.day(),
            date.num_seconds_from_midnight(),
            date.nanosecond(),
        )
    };
    let months = index(end) - index(start);
    if months > 0 && within(end) < within(start) {
        months - 1
    } else if months < 0 && within(end) > within(start) {
        months + 1
    } else {
        months
    }
}

pub(super) fn format_date(
    date: &Value,
    pattern: &Value,
    meter: &Meter,
) -> Result<Value, EvalError> {
    const NAME: &str = "FORMATDATE";
    zip_with(meter, [date, pattern], NAME, |[date, pattern]| {
        let pattern = text_arg(pattern, NAME, "a date pattern")?;
        check_pattern(pattern).map_err(|message| EvalError::new(format!("{NAME}: {message}")))?;
        let Some(date) = coerce::date(date, NAME)? else {
            return Ok(Scalar::Null);
        };
        let mut text = String::new();
        write!(text, "{}", date.format(pattern))
            .map_err(|_| EvalError::new(format!("{NAME}: cannot format with {pattern:?}")))?;
        Ok(Scalar::Text(text))
    })
}
