use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn on(expr: &str, today: NaiveDate) -> NaiveDate {
    DateExpr::parse(expr).unwrap().on(today, None).unwrap()
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap()
}

#[test]
fn relative_days() {
    let today = day(2026, 12, 2);
    assert_eq!(on("today", today), today);
    assert_eq!(on("yesterday", today), day(2026, 12, 1));
    assert_eq!(on("tomorrow", today), day(2026, 12, 3));
    assert_eq!(on("30_days_ago", today), day(2026, 11, 2));
    assert_eq!(on("0_days_ago", today), today);
    assert_eq!(on("2_weeks_ago", today), day(2026, 11, 18));
    assert_eq!(on("yesterday", day(2026, 1, 1)), day(2025, 12, 31));
}

#[test]
fn month_arithmetic_clamps_to_the_month_end() {
    assert_eq!(on("1_months_ago", day(2026, 1, 31)), day(2025, 12, 31));
    assert_eq!(on("1_months_ago", day(2026, 3, 31)), day(2026, 2, 28));
    assert_eq!(on("1_months_ago", day(2028, 3, 31)), day(2028, 2, 29));
    assert_eq!(on("3_months_ago", day(2026, 5, 31)), day(2026, 2, 28));
    assert_eq!(on("12_months_ago", day(2028, 2, 29)), day(2027, 2, 28));
}

#[test]
fn month_ends() {
    assert_eq!(on("start_of_month", day(2026, 2, 14)), day(2026, 2, 1));
    assert_eq!(on("end_of_month", day(2026, 2, 14)), day(2026, 2, 28));
    assert_eq!(on("end_of_month", day(2028, 2, 1)), day(2028, 2, 29));
    assert_eq!(on("end_of_month", day(2026, 12, 31)), day(2026, 12, 31));
    assert_eq!(on("start_of_last_month", day(2026, 3, 31)), day(2026, 2, 1));
    assert_eq!(on("end_of_last_month", day(2026, 3, 31)), day(2026, 2, 28));
    assert_eq!(
        on("start_of_last_month", day(2026, 1, 15)),
        day(2025, 12, 1)
    );
    assert_eq!(on("end_of_last_month", day(2026, 1, 1)), day(2025, 12, 31));
}

#[test]
fn quarter_boundaries() {
    assert_eq!(on("start_of_quarter", day(2026, 3, 31)), day(2026, 1, 1));
    assert_eq!(on("start_of_quarter", day(2026, 4, 1)), day(2026, 4, 1));
    assert_eq!(on("end_of_quarter", day(2026, 4, 1)), day(2026, 6, 30));
    assert_eq!(on("end_of_quarter", day(2026, 11, 5)), day(2026, 12, 31));
    assert_eq!(
        on("start_of_last_quarter", day(2026, 2, 10)),
        day(2025, 10, 1)
    );
    assert_eq!(
        on("end_of_last_quarter", day(2026, 2, 10)),
        day(2025, 12, 31)
    );
    assert_eq!(on("end_of_last_quarter", day(2026, 7, 1)), day(2026, 6, 30));
}

#[test]
fn iso_weeks_start_on_monday() {
    // 2026-12-02 is a Wednesday; 2026-12-06 a Sunday; 2026-12-07 a Monday.
    assert_eq!(on("start_of_week", day(2026, 12, 2)), day(2026, 11, 30));
    assert_eq!(on("end_of_week", day(2026, 12, 2)), day(2026, 12, 6));
    assert_eq!(on("start_of_week", day(2026, 12, 6)), day(2026, 11, 30));
    assert_eq!(on("start_of_week", day(2026, 12, 7)), day(2026, 12, 7));
    assert_eq!(
        on("start_of_last_week", day(2026, 12, 7)),
        day(2026, 11, 30)
    );
    assert_eq!(on("end_of_last_week", day(2026, 12, 7)), day(2026, 12, 6));
    // A week across the new year.
    assert_eq!(on("start_of_week", day(2027, 1, 1)), day(2026, 12, 28));
}

#[test]
fn years() {
    assert_eq!(on("start_of_year", day(2026, 7, 4)), day(2026, 1, 1));
    assert_eq!(on("end_of_year", day(2026, 7, 4)), day(2026, 12, 31));
    assert_eq!(on("start_of_last_year", day(2026, 7, 4)), day(2025, 1, 1));
    assert_eq!(on("end_of_last_year", day(2026, 1, 1)), day(2025, 12, 31));
}

#[test]
fn today_depends_on_the_time_zone() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap();
    assert_eq!(today_in(now, zone("Europe/Berlin")), day(2026, 12, 2));
    assert_eq!(today_in(now, zone("America/New_York")), day(2026, 12, 1));
    assert_eq!(today_in(now, Tz::UTC), day(2026, 12, 1));
    let berlin = DateValues::at(now, zone("Europe/Berlin"));
    let new_york = DateValues::at(now, zone("America/New_York"));
    let yesterday = DateExpr::parse("yesterday").unwrap();
    assert_eq!(
        berlin.text(yesterday, &DateFormat::Iso).unwrap(),
        "2026-12-01"
    );
    assert_eq!(
        new_york.text(yesterday, &DateFormat::Iso).unwrap(),
        "2026-11-30"
    );
}

#[test]
fn epoch_formats_are_the_first_instant_of_the_day_in_the_zone() {
    let date = day(2026, 12, 2);
    let utc = DateFormat::Epoch.write(date, Tz::UTC).unwrap();
    assert_eq!(utc, "1796169600");
    // Berlin is UTC+1 in December: its day starts an hour earlier.
    let berlin = DateFormat::Epoch
        .write(date, zone("Europe/Berlin"))
        .unwrap();
    assert_eq!(berlin, "1796166000");
    let millis = DateFormat::EpochMs.write(date, Tz::UTC).unwrap();
    assert_eq!(millis, "1796169600000");
}

#[test]
fn a_day_whose_midnight_is_skipped_starts_after_the_gap() {
    // Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11.
    let start = start_of_day(day(2022, 9, 11), zone("America/Santiago"));
    assert_eq!(start.to_rfc3339(), "2022-09-11T01:00:00-03:00");
}

#[test]
fn strftime_patterns() {
    let date = day(2026, 12, 2);
    let write = |pattern: &str| {
        DateFormat::parse(pattern)
            .unwrap()
            .write(date, zone("Europe/Berlin"))
            .unwrap()
    };
    assert_eq!(write("%d/%m/%Y"), "02/12/2026");
    assert_eq!(write("%Y%m%d"), "20261202");
    assert_eq!(write("%Y-%m-%dT%H:%M:%S%z"), "2026-12-02T00:00:00+0100");
    assert_eq!(write("%b %e, %Y"), "Dec  2, 2026");
    assert_eq!(DateFormat::parse("iso").unwrap(), DateFormat::Iso);
    assert_eq!(DateFormat::parse("epoch_ms").unwrap(), DateFormat::EpochMs);
}

#[test]
fn bad_formats_are_refused() {
    assert!(
        DateFormat::parse("%Q")
            .unwrap_err()
            .contains("not a valid strftime")
    );
    assert!(
        DateFormat::parse("%")
            .unwrap_err()
            .contains("not a valid strftime")
    );
    assert!(DateFormat::parse("").unwrap_err().contains("empty"));
    assert!(
        DateFormat::parse("Ymd")
            .unwrap_err()
            .contains("unknown date format")
    );
    assert!(
        DateFormat::parse("%Y%n")
            .unwrap_err()
            .contains("line break")
    );
    assert!(
        DateFormat::parse(&"%Y".repeat(51))
            .unwrap_err()
            .contains("at most")
    );
}

#[test]
fn bad_expressions_are_refused() {
    for text in [
        "",
        "now",
        "Today",
        "start_of_day",
        "end_of_last_decade",
        "x_days_ago",
        "-1_days_ago",
        "_days_ago",
        "1_day_ago",
        "1_years_ago",
        "range.middle",
    ] {
        let error = DateExpr::parse(text).unwrap_err();
        assert!(error.contains("unknown date expression"), "{text}: {error}");
    }
    let error = DateExpr::parse("3661_days_ago").unwrap_err();
    assert!(error.contains("at most 3660"), "{error}");
    assert!(DateExpr::parse("121_months_ago").is_err());
    assert!(DateExpr::parse("99999999_days_ago").is_err());
}

#[test]
fn ranges() {
    let today = day(2026, 12, 2);
    let span = DateSpan {
        start: range_end("30_days_ago", today, None).unwrap(),
        end: range_end("yesterday", today, None).unwrap(),
    };
    assert_eq!(span.start, day(2026, 11, 2));
    assert_eq!(span.end, day(2026, 12, 1));
    let error = range_end("range.start", today, None).unwrap_err();
    assert!(error.contains("cannot name the range itself"));
    assert_eq!(range_end("range.end", today, Some(span)).unwrap(), span.end);
    assert!(span.contains(&DateSpan {
        start: day(2026, 11, 25),
        end: day(2026, 12, 1),
    }));
    assert!(!span.contains(&DateSpan {
        start: day(2026, 11, 25),
        end: day(2026, 12, 2),
    }));
    let mut violations = Violations::new();
    let bad = DateRange {
        start: "range.end".into(),
        end: String::new(),
    };
    check_range(&mut violations, "data_source.date_range", &bad);
    let error = violations.into_result().unwrap_err().to_string();
    assert!(error.contains("data_source.date_range.start"), "{error}");
    assert!(error.contains("data_source.date_range.end"), "{error}");
}

#[test]
fn range_expressions_resolve_from_the_range() {
    let values = DateValues {
        today: day(2026, 12, 2),
        zone: Tz::UTC,
        range: Some(DateSpan {
            start: day(2026, 11, 1),
            end: day(2026, 11, 30),
        }),
    };
    let start = DateExpr::parse("range.start").unwrap();
    assert_eq!(values.text(start, &DateFormat::Iso).unwrap(), "2026-11-01");
    let without = DateValues {
        range: None,
        ..values
    };
    assert!(without.text(start, &DateFormat::Iso).is_err());
}
