//! Date expressions of data-source templates: `{date.EXPR}` and `{date.EXPR|FORMAT}`, and
//! the ends of a data source's `date_range`.
//!
//! A date is a calendar day in the account's time zone: `today` is the day the clock's
//! instant falls on there. EXPR names a day relative to today (`yesterday`,
//! `start_of_month`, `30_days_ago`, …) or an end of the data source's range (`range.start`,
//! `range.end`). FORMAT writes it: `iso` (the default, `2026-12-02`), `epoch` / `epoch_ms`
//! (the first instant of that day in the zone) or a strftime pattern, formatted at the
//! day's first instant (so `%H:%M` is `00:00`).

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use trellis_platform::error::Violations;

/// Largest N of `N_days_ago` (about ten years).
pub const MAX_DAYS_AGO: u32 = 3660;
/// Largest N of `N_weeks_ago`.
pub const MAX_WEEKS_AGO: u32 = 520;
/// Largest N of `N_months_ago`.
pub const MAX_MONTHS_AGO: u32 = 120;
/// Longest strftime pattern.
pub const MAX_PATTERN_CHARS: usize = 100;

/// What an expression may be, for error messages.
pub const EXPRESSIONS: &str = "today, yesterday, tomorrow, start_of_/end_of_ + week, month, \
     quarter or year (or last_week, last_month, last_quarter, last_year), N_days_ago, \
     N_weeks_ago, N_months_ago, range.start, range.end";

/// A calendar period of `start_of_…` and `end_of_…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// ISO weeks: Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

/// A day relative to today, or an end of the data source's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateExpr {
    Today,
    Yesterday,
    Tomorrow,
    StartOf(Period),
    EndOf(Period),
    StartOfLast(Period),
    EndOfLast(Period),
    DaysAgo(u32),
    WeeksAgo(u32),
    MonthsAgo(u32),
    RangeStart,
    RangeEnd,
}

/// How a date is written into the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// `2026-12-02`.
    Iso,
    /// Seconds since 1970 at the first instant of the day in the account's zone.
    Epoch,
    /// The same in milliseconds.
    EpochMs,
    /// A strftime pattern, checked with chrono.
    Pattern(String),
}

/// The days of a resolved range, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpan {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateSpan {
    pub fn contains(&self, other: &DateSpan) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl std::fmt::Display for DateSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.start, self.end)
    }
}

/// A data source's date range as written: two date expressions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub start: String,
    pub end: String,
}

/// What resolving dates needs: today in the account's zone, the zone, and the range in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateValues {
    pub today: NaiveDate,
    pub zone: Tz,
    pub range: Option<DateSpan>,
}

impl DateValues {
    /// Today in `zone` at `now`, without a range.
    pub fn at(now: DateTime<Utc>, zone: Tz) -> Self {
        DateValues {
            today: today_in(now, zone),
            zone,
            range: None,
        }
    }

    /// The text of `{date.EXPR|FORMAT}`.
    pub fn text(&self, expr: DateExpr, format: &DateFormat) -> Result<String, String> {
        let date = expr.on(self.today, self.range).ok_or_else(|| match expr {
            DateExpr::RangeStart | DateExpr::RangeEnd => {
                "the data source has no date range".to_owned()
            }
            _ => "the date is out of range".to_owned(),
        })?;
        format.write(date, self.zone)
    }
}

/// The day `now` falls on in `zone`.
pub fn today_in(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// The first instant of `date` in `zone`: its midnight, or where a clock change skips
/// midnight, the first minute after the gap.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Tz> {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=24 * 4)
        .filter_map(|quarter| {
            let local = midnight + chrono::Duration::minutes(15 * quarter);
            zone.from_local_datetime(&local).earliest()
        })
        .next()
        .unwrap_or_else(|| zone.from_utc_datetime(&midnight))
}

fn period(text: &str) -> Option<Period> {
    Some(match text {
        "week" => Period::Week,
        "month" => Period::Month,
        "quarter" => Period::Quarter,
        "year" => Period::Year,
        _ => return None,
    })
}

fn unknown(text: &str) -> String {
    format!("unknown date expression `{text}`; use one of {EXPRESSIONS}")
}

impl DateExpr {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expr = match text {
            "today" => DateExpr::Today,
            "yesterday" => DateExpr::Yesterday,
            "tomorrow" => DateExpr::Tomorrow,
            "range.start" => DateExpr::RangeStart,
            "range.end" => DateExpr::RangeEnd,
            _ => return Self::parse_compound(text),
        };
        Ok(expr)
    }

    fn parse_compound(text: &str) -> Result<Self, String> {
        for (prefix, this, last) in [
            (
                "start_of_",
                DateExpr::StartOf as fn(Period) -> DateExpr,
                DateExpr::StartOfLast as fn(Period) -> DateExpr,
            ),
            ("end_of_", DateExpr::EndOf, DateExpr::EndOfLast),
        ] {
            if let Some(rest) = text.strip_prefix(prefix) {
                return match rest.strip_prefix("last_") {
                    Some(name) => period(name).map(last),
                    None => period(rest).map(this),
                }
                .ok_or_else(|| unknown(text));
            }
        }
        let Some((number, unit)) = text.split_once('_') else {
            return Err(unknown(text));
        };
        let (make, max): (fn(u32) -> DateExpr, u32) = match unit {
            "days_ago" => (DateExpr::DaysAgo, MAX_DAYS_AGO),
            "weeks_ago" => (DateExpr::WeeksAgo, MAX_WEEKS_AGO),
            "months_ago" => (DateExpr::MonthsAgo, MAX_MONTHS_AGO),
            _ => return Err(unknown(text)),
        };
        if number.is_empty() || number.len() > 5 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown(text));
        }
        match number.parse::<u32>() {
            Ok(n) if n <= max => Ok(make(n)),
            _ => Err(format!("`{text}`: N must be at most {max}")),
        }
    }

    /// Whether the expression names an end of the data source's range.
    pub fn uses_range(self) -> bool {
        matches!(self, DateExpr::RangeStart | DateExpr::RangeEnd)
    }

    /// The day the expression names; `None` for a range end without a range.
    pub fn on(self, today: NaiveDate, range: Option<DateSpan>) -> Option<NaiveDate> {
        match self {
            DateExpr::Today => Some(today),
            DateExpr::Yesterday => today.pred_opt(),
            DateExpr::Tomorrow => today.succ_opt(),
            DateExpr::StartOf(period) => start_of(period, today),
            DateExpr::EndOf(period) => end_of(period, today),
            DateExpr::StartOfLast(period) => start_of(period, previous(period, today)?),
            DateExpr::EndOfLast(period) => end_of(period, previous(period, today)?),
            DateExpr::DaysAgo(n) => today.checked_sub_days(Days::new(n.into())),
            DateExpr::WeeksAgo(n) => today.checked_sub_days(Days::new(7 * u64::from(n))),
            DateExpr::MonthsAgo(n) => today.checked_sub_months(Months::new(n)),
            DateExpr::RangeStart => range.map(|r| r.start),
            DateExpr::RangeEnd => range.map(|r| r.end),
        }
    }
}

/// The first day of the period `day` is in.
fn start_of(period: Period, day: NaiveDate) -> Option<NaiveDate> {
    match period {
        Period::Week => {
            day.checked_sub_days(Days::new(day.weekday().num_days_from_monday().into()))
        }
        Period::Month => day.with_day(1),
        Period::Quarter => NaiveDate::from_ymd_opt(day.year(), (day.month() - 1) / 3 * 3 + 1, 1),
        Period::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1),
    }
}

/// The last day of the period `day` is in.
fn end_of(period: Period, day: NaiveDate) -> Option<NaiveDate> {
    let start = start_of(period, day)?;
    let next = match period {
        Period::Week => start.checked_add_days(Days::new(7)),
        Period::Month => start.checked_add_months(Months::new(1)),
        Period::Quarter => start.checked_add_months(Months::new(3)),
        Period::Year => start.checked_add_months(Months::new(12)),
    }?;
    next.pred_opt()
}

/// A day of the period before the one `day` is in.
fn previous(period: Period, day: NaiveDate) -> Option<NaiveDate> {
    start_of(period, day)?.pred_opt()
}

impl DateFormat {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "iso" => Ok(DateFormat::Iso),
            "epoch" => Ok(DateFormat::Epoch),
            "epoch_ms" => Ok(DateFormat::EpochMs),
            "" => Err(
                "the format after `|` is empty; use iso, epoch, epoch_ms or a strftime \
                 pattern such as %d/%m/%Y"
                    .into(),
            ),
            pattern if !pattern.contains('%') => Err(format!(
                "unknown date format `{pattern}`; use iso, epoch, epoch_ms or a strftime \
                 pattern such as %d/%m/%Y"
            )),
            pattern => check_pattern(pattern).map(|()| DateFormat::Pattern(pattern.to_owned())),
        }
    }

    /// `date` written in this format; the epoch formats and patterns use the first instant
    /// of the day in `zone`.
    pub fn write(&self, date: NaiveDate, zone: Tz) -> Result<String, String> {
        let start = || start_of_day(date, zone);
        Ok(match self {
            DateFormat::Iso => date.format("%Y-%m-%d").to_string(),
            DateFormat::Epoch => start().timestamp().to_string(),
            DateFormat::EpochMs => start().timestamp_millis().to_string(),
            DateFormat::Pattern(pattern) => {
                let mut out = String::new();
                write!(
                    out,
                    "{}",
                    start().format_with_items(StrftimeItems::new(pattern))
                )
                .map_err(|_| format!("the date cannot be written as `{pattern}`"))?;
                out
            }
        })
    }
}

fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!(
            "the strftime pattern must be at most {MAX_PATTERN_CHARS} characters"
        ));
    }
    for item in StrftimeItems::new(pattern) {
        match item {
            Item::Error => {
                return Err(format!(
                    "`{pattern}` is not a valid strftime pattern (see chrono's strftime \
                     specifiers)"
                ));
            }
            Item::Space(space) if space.chars().any(|c| c != ' ') => {
                return Err(format!(
                    "`{pattern}`: %n and %t would put a line break or tab into the request"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a data source's range: two expressions relative to today (not to the range).
pub fn check_range(violations: &mut Violations, field: &str, range: &DateRange) {
    for (end, text) in [("start", &range.start), ("end", &range.end)] {
        let field = format!("{field}.{end}");
        if text.is_empty() {
            violations.add(field, "is required: a date expression such as 30_days_ago");
            continue;
        }
        match DateExpr::parse(text) {
            Ok(expr) if expr.uses_range() => {
                violations.add(field, "a range's end cannot name the range itself")
            }
            Ok(_) => {}
            Err(problem) => violations.add(field, problem),
        }
    }
}

/// The day a range end `text` names on `today`. Within a data source's own range `range`
/// is `None`, and an end naming the range is refused; a narrowing range may name the data
/// source's (`range.start`).
pub fn range_end(
    text: &str,
    today: NaiveDate,
    range: Option<DateSpan>,
) -> Result<NaiveDate, String> {
    if text.is_empty() {
        return Err("is required: a date expression such as 30_days_ago".into());
    }
    let expr = DateExpr::parse(text)?;
    expr.on(today, range).ok_or_else(|| {
        if expr.uses_range() {
            "a range's end cannot name the range itself".to_owned()
        } else {
            "the date is out of range".to_owned()
        }
    })
}

#[cfg(test)]
mod tests;
