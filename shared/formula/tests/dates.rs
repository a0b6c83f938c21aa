//! The date functions. The test clock is 2024-03-15T10:30:00Z.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{eval, eval_error};
use serde_json::json;

#[test]
fn today_and_now_read_the_injected_clock() {
    assert_eq!(eval("NOW()"), json!(["2024-03-15T10:30:00Z"]));
    assert_eq!(eval("TODAY()"), json!(["2024-03-15T00:00:00Z"]));
}

#[test]
fn date_parses_iso_text_patterns_and_unix_seconds() {
    assert_eq!(
        eval("DATE(\"2024-02-29\")"),
        json!(["2024-02-29T00:00:00Z"])
    );
    assert_eq!(
        eval("DATE(\"2024-02-29T12:00:00+02:00\")"),
        json!(["2024-02-29T10:00:00Z"])
    );
    assert_eq!(
        eval("DATE(\"2024-02-29 08:15\")"),
        json!(["2024-02-29T08:15:00Z"])
    );
    assert_eq!(
        eval("DATE(\"29/02/2024\", \"%d/%m/%Y\")"),
        json!(["2024-02-29T00:00:00Z"])
    );
    assert_eq!(
        eval("DATE(\"29.02.2024 14:05\", \"%d.%m.%Y %H:%M\")"),
        json!(["2024-02-29T14:05:00Z"])
    );
    assert_eq!(eval("DATE(0)"), json!(["1970-01-01T00:00:00Z"]));
    assert_eq!(eval("DATE(1.5)"), json!(["1970-01-01T00:00:01.500Z"]));
    assert_eq!(eval("DATE([null, \"\"])"), json!([null, null]));
    assert_eq!(
        eval_error("DATE(\"next week\")"),
        "DATE: expected a date, got text \"next week\""
    );
    assert_eq!(
        eval_error("DATE(\"2024-02-29\", \"%d/%m/%Y\")"),
        "DATE: text \"2024-02-29\" does not match the pattern \"%d/%m/%Y\""
    );
    assert_eq!(
        eval_error("DATE(true)"),
        "DATE: expected a date, got boolean true"
    );
    assert_eq!(
        eval_error("DATE(1e20)"),
        "DATE: the date is outside the supported range"
    );
    assert_eq!(
        eval_error("DATE(\"1\", \"%\" & \"Q\")"),
        "DATE: invalid date pattern \"%Q\""
    );
}

#[test]
fn datevalue_is_unix_seconds() {
    assert_eq!(eval("DATEVALUE(\"1970-01-02\")"), json!([86400]));
    assert_eq!(
        eval("DATEVALUE(\"02/01/1970\", \"%d/%m/%Y\")"),
        json!([86400])
    );
    assert_eq!(eval("DATEVALUE(DATE(1234.5))"), json!([1234.5]));
}

#[test]
fn parts() {
    assert_eq!(eval("YEAR(\"2024-03-05\")"), json!([2024]));
    assert_eq!(eval("MONTH([\"2024-03-05\", null])"), json!([3, null]));
    assert_eq!(eval("DAY(TODAY())"), json!([15]));
    assert_eq!(eval_error("YEAR(5)"), "YEAR: expected a date, got number 5");
}

#[test]
fn dateadd() {
    assert_eq!(
        eval("DATEADD(\"2024-01-31\", 1, \"month\")"),
        json!(["2024-02-29T00:00:00Z"])
    );
    assert_eq!(
        eval("DATEADD(\"2024-02-29\", -1, \"years\")"),
        json!(["2023-02-28T00:00:00Z"])
    );
    assert_eq!(
        eval("DATEADD(TODAY(), -7, \"days\")"),
        json!(["2024-03-08T00:00:00Z"])
    );
    assert_eq!(
        eval("DATEADD(NOW(), 1.5, \"hours\")"),
        json!(["2024-03-15T12:00:00Z"])
    );
    assert_eq!(
        eval("DATEADD(NOW(), 90, \"Seconds\")"),
        json!(["2024-03-15T10:31:30Z"])
    );
    assert_eq!(
        eval("DATEADD(NOW(), 2, \"weeks\")"),
        json!(["2024-03-29T10:30:00Z"])
    );
    assert_eq!(
        eval("DATEADD(NOW(), 30, \"minutes\")"),
        json!(["2024-03-15T11:00:00Z"])
    );
    assert_eq!(
        eval("DATEADD(\"2024-01-01\", [1, 2], \"days\")"),
        json!(["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"])
    );
    assert_eq!(eval("DATEADD(null, 1, \"days\")"), json!([null]));
    assert_eq!(
        eval_error("DATEADD(NOW(), 1.5, \"months\")"),
        "DATEADD: months and years must be whole numbers, got 1.5"
    );
    assert_eq!(
        eval_error("DATEADD(NOW(), 1e15, \"years\")"),
        "DATEADD: the date is outside the supported range"
    );
    assert_eq!(
        eval_error("DATEADD(NOW(), 1e15, \"days\")"),
        "DATEADD: the date is outside the supported range"
    );
    assert_eq!(
        eval_error("DATEADD(NOW(), 1, \"eons\" & \"\")"),
        "DATEADD: unknown unit \"eons\" (use seconds, minutes, hours, days, weeks, months or years)"
    );
    assert_eq!(
        eval_error("DATEADD(NOW(), 1, 2)"),
        "DATEADD: expected a unit, got number 2"
    );
}

#[test]
fn datediff_counts_whole_units() {
    assert_eq!(
        eval("DATEDIFF(\"2024-01-01\", \"2024-03-01\", \"days\")"),
        json!([60])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-03-01\", \"2024-01-01\", \"days\")"),
        json!([-60])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-01\", \"2024-01-01T23:59:00\", \"days\")"),
        json!([0])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-01\", \"2024-01-01T05:00:00\", \"hours\")"),
        json!([5])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-31\", \"2024-02-29\", \"months\")"),
        json!([0])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-15\", \"2024-02-15\", \"months\")"),
        json!([1])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-02-15\", \"2024-01-16\", \"months\")"),
        json!([0])
    );
    assert_eq!(
        eval("DATEDIFF(\"2020-02-29\", \"2024-02-28\", \"years\")"),
        json!([3])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-02-28\", \"2020-02-29\", \"years\")"),
        json!([-3])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-01\", \"2024-01-15\", \"weeks\")"),
        json!([2])
    );
    assert_eq!(
        eval("DATEDIFF(\"2024-01-01\", null, \"weeks\")"),
        json!([null])
    );
}

#[test]
fn formatdate() {
    assert_eq!(
        eval("FORMATDATE(\"2024-03-05T14:07:00Z\", \"%d %b %Y, %H:%M\")"),
        json!(["05 Mar 2024, 14:07"])
    );
    assert_eq!(
        eval("FORMATDATE([TODAY(), null], \"%Y-%m\")"),
        json!(["2024-03", null])
    );
    assert_eq!(
        eval_error("FORMATDATE(NOW(), \"%\" & \"Q\")"),
        "FORMATDATE: invalid date pattern \"%Q\""
    );
    assert_eq!(
        eval_error("FORMATDATE(\"x\", \"%Y\")"),
        "FORMATDATE: expected a date, got text \"x\""
    );
}
