//! Tests of the cron evaluator.

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

/// Each case: the expression, the time after which it fires next, the zone, that next
/// firing, and what the case shows.
fn assert_next(cases: &[(&str, &str, Tz, &str, &str)]) {
    for (expression, after, zone, expected, why) in cases {
        assert_eq!(
            next(expression, after, *zone),
            *expected,
            "{expression} after {after}: {why}"
        );
    }
}

#[test]
fn five_fields_fire_on_the_minute_and_six_on_the_second() {
    assert_next(&[
        (
            "0 8 * * Mon-Fri",
            "2026-12-04T09:00:00Z",
            Tz::UTC,
            "2026-12-07T08:00:00+00:00",
            "Friday after eight: Monday",
        ),
        (
            "*/5 * * * * *",
            "2026-12-04T09:00:03Z",
            Tz::UTC,
            "2026-12-04T09:00:05+00:00",
            "every fifth second",
        ),
        (
            "30 * * * *",
            "2026-12-04T09:30:00Z",
            Tz::UTC,
            "2026-12-04T10:30:00+00:00",
            "strictly after",
        ),
        (
            "@monthly",
            "2026-12-04T09:00:00Z",
            Tz::UTC,
            "2027-01-01T00:00:00+00:00",
            "a shorthand",
        ),
    ]);
}

#[test]
fn weekdays_count_from_sunday_and_seven_is_sunday_too() {
    // 2026-12-06 is a Sunday.
    let sunday = |expression| {
        (
            expression,
            "2026-12-04T00:00:00Z",
            Tz::UTC,
            "2026-12-06T09:00:00+00:00",
            "Sunday",
        )
    };
    assert_next(&[
        sunday("0 9 * * 0"),
        sunday("0 9 * * 7"),
        sunday("0 9 * * sun"),
        (
            "0 9 * * 1",
            "2026-12-04T00:00:00Z",
            Tz::UTC,
            "2026-12-07T09:00:00+00:00",
            "1 is Monday",
        ),
    ]);
}

#[test]
fn restricted_day_fields_match_either_as_vixie_cron_does() {
    assert_next(&[
        // From Wednesday 2026-12-02 the next is Monday the 7th.
        (
            "0 8 1 * Mon",
            "2026-12-02T00:00:00Z",
            Tz::UTC,
            "2026-12-07T08:00:00+00:00",
            "the 1st, or any Monday",
        ),
        (
            "0 8 */2 * Mon",
            "2026-12-02T00:00:00Z",
            Tz::UTC,
            "2026-12-07T08:00:00+00:00",
            "a step from `*` does not restrict: every other day that is also a Monday",
        ),
        (
            "0 0 29 2 *",
            "2026-03-01T00:00:00Z",
            Tz::UTC,
            "2028-02-29T00:00:00+00:00",
            "the next leap day",
        ),
    ]);
}

#[test]
fn times_are_read_in_the_zone_across_daylight_saving_changes() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    assert_next(&[
        (
            "0 8 * * *",
            "2026-12-04T09:00:00Z",
            berlin,
            "2026-12-05T07:00:00+00:00",
            "08:00 CET",
        ),
        (
            "30 2 * * *",
            "2026-03-28T12:00:00Z",
            berlin,
            "2026-03-29T01:30:00+00:00",
            "2026-03-29 02:30 does not exist in Berlin: it fires at 03:30 CEST (01:30 UTC)",
        ),
        (
            "30 2 * * *",
            "2026-10-24T12:00:00Z",
            berlin,
            "2026-10-25T00:30:00+00:00",
            "2026-10-25 02:30 happens twice: it fires once, the first time (CEST)",
        ),
        (
            "30 2 * * *",
            "2026-10-25T00:30:00Z",
            berlin,
            "2026-10-26T01:30:00+00:00",
            "and not the second time",
        ),
    ]);
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

#[test]
fn the_shortest_interval_between_firings_is_known() {
    let shortest = |expression: &str| {
        Cron::parse(expression)
            .unwrap()
            .shortest_interval()
            .as_secs()
    };
    assert_eq!(shortest("* * * * * *"), 1);
    assert_eq!(shortest("*/5 * * * * *"), 5);
    assert_eq!(shortest("* * * * *"), 60);
    assert_eq!(shortest("*/5 * * * *"), 300);
    assert_eq!(shortest("0 8 * * *"), 86_400);
    assert_eq!(shortest("0 8,9 * * *"), 3600);
    // From 23:58 one day to 00:00 the next.
    assert_eq!(shortest("0,58 0,23 * * *"), 120);
    // Only Mondays: no firing of one Monday is close to the next Monday's.
    assert_eq!(shortest("0,58 0,23 * * Mon"), 58 * 60);
    assert_eq!(shortest("0 8 * * Mon"), 7 * 86_400);
    assert_eq!(shortest("0 0 29 2 *"), 1461 * 86_400);
    assert_eq!(shortest("30 15 10 * * *"), 86_400);
}
