//! The non-date functions.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{eval, eval_error};
use serde_json::json;

#[test]
fn sum() {
    assert_eq!(eval("SUM([1, 2, 3.5])"), json!([6.5]));
    assert_eq!(eval("SUM([1, null, \"2\", \"\"])"), json!([3]));
    assert_eq!(eval("SUM([1, 2], 3, [])"), json!([6]));
    assert_eq!(eval("SUM([])"), json!([0]));
    assert_eq!(eval("sum(1)"), json!([1]));
    assert_eq!(
        eval_error("SUM([1, \"abc\"])"),
        "SUM: expected a number, got text \"abc\""
    );
    assert_eq!(
        eval_error("SUM([1e308, 1e308])"),
        "SUM: the result is too large"
    );
}

#[test]
fn average() {
    assert_eq!(eval("AVERAGE([1, 2, 3, null])"), json!([2]));
    assert_eq!(eval("AVERAGE([])"), json!([null]));
    assert_eq!(
        eval_error("AVERAGE(true)"),
        "AVERAGE: expected a number, got boolean true"
    );
}

#[test]
fn count() {
    assert_eq!(eval("COUNT([1, null, \"a\", false])"), json!([3]));
    assert_eq!(eval("COUNT([], [1, 2])"), json!([2]));
}

#[test]
fn min_and_max() {
    assert_eq!(eval("MIN([3, \"1\", 2, null])"), json!([1]));
    assert_eq!(eval("MAX([3, \"10\", 2])"), json!([10]));
    assert_eq!(eval("MAX([])"), json!([null]));
    assert_eq!(eval("MIN([-1, -5], 0)"), json!([-5]));
    assert_eq!(
        eval("MAX([DATE(\"2024-01-01\"), DATE(\"2024-06-01\")])"),
        json!(["2024-06-01T00:00:00Z"])
    );
    assert_eq!(
        eval_error("MIN([1, \"x\"])"),
        "MIN: expected a number, got text \"x\""
    );
}

#[test]
fn sum_by_and_count_by_follow_group_order() {
    assert_eq!(
        eval("GROUP([\"b\", \"a\", \"b\", \"c\"])"),
        json!(["b", "a", "c"])
    );
    assert_eq!(
        eval("SUMBY([1, 2, 3, 4], [\"b\", \"a\", \"b\", \"c\"])"),
        json!([4, 2, 4])
    );
    assert_eq!(
        eval("COUNTBY([\"b\", \"a\", \"b\", \"c\"])"),
        json!([2, 1, 1])
    );
    assert_eq!(
        eval_error("SUMBY([1, 2], [\"a\"])"),
        "SUMBY: 2 values but 1 keys (they must pair up)"
    );
}

#[test]
fn round() {
    assert_eq!(eval("ROUND(2.5)"), json!([3]));
    assert_eq!(eval("ROUND(-2.5)"), json!([-3]));
    assert_eq!(eval("ROUND(2.71828, 2)"), json!([2.72]));
    assert_eq!(eval("ROUND(1234, -2)"), json!([1200]));
    assert_eq!(eval("ROUND([1.26, 2.34], 1)"), json!([1.3, 2.3]));
    assert_eq!(eval("ROUND(1.5, 400)"), json!([1.5]));
    assert_eq!(eval("ROUND(1.5, -400)"), json!([0]));
    assert_eq!(eval("ROUND(null)"), json!([null]));
    assert_eq!(
        eval_error("ROUND(1, 0.5)"),
        "ROUND: digits must be a whole number, got 0.5"
    );
}

#[test]
fn abs_and_number() {
    assert_eq!(eval("ABS([-1, 2, null])"), json!([1, 2, null]));
    assert_eq!(eval("NUMBER([\"1.5\", \"\", 3])"), json!([1.5, null, 3]));
    assert_eq!(
        eval_error("NUMBER(\"x1\")"),
        "NUMBER: expected a number, got text \"x1\""
    );
}

#[test]
fn if_with_one_condition_picks_a_whole_branch() {
    assert_eq!(eval("IF(true, [1, 2, 3], [4])"), json!([1, 2, 3]));
    assert_eq!(eval("IF(1 > 2, [1, 2, 3], [4])"), json!([4]));
    // Only the chosen branch is evaluated.
    assert_eq!(eval("IF(true, 1, \"x\" * 2)"), json!([1]));
    assert_eq!(eval("IF(null, 1, 2)"), json!([2]));
}

#[test]
fn if_with_many_conditions_is_element_wise() {
    assert_eq!(
        eval("IF([1, 5, 10] > 4, \"big\", \"small\")"),
        json!(["small", "big", "big"])
    );
    assert_eq!(eval("IF([true, false], [1, 2], [3, 4])"), json!([1, 4]));
    assert_eq!(
        eval_error("IF([true, \"x\"], 1, 2)"),
        "IF: expected true or false, got text \"x\""
    );
    assert_eq!(
        eval_error("IF([true, false], [1, 2, 3], 0)"),
        "IF: cannot combine a list of 2 values with a list of 3 \
         (lists must have the same length, or one value)"
    );
}

#[test]
fn concat_and_join() {
    assert_eq!(eval("CONCAT(\"a\", 1, null, true)"), json!(["a1true"]));
    assert_eq!(
        eval("CONCAT([\"a\", \"b\"], \"-\", [1, 2])"),
        json!(["a-1", "b-2"])
    );
    assert_eq!(eval("CONCAT([])"), json!([]));
    assert_eq!(eval("JOIN([\"a\", null, \"b\", 3])"), json!(["a, b, 3"]));
    assert_eq!(eval("JOIN([1, 2], \"/\")"), json!(["1/2"]));
    assert_eq!(eval("JOIN([])"), json!([""]));
    assert_eq!(
        eval_error("JOIN([1], [\"a\", \"b\"])"),
        "JOIN: the separator must be a single value"
    );
}

#[test]
fn text_functions() {
    assert_eq!(
        eval("LEN([\"héllo\", \"\", null, 12.5])"),
        json!([5, 0, null, 4])
    );
    assert_eq!(eval("UPPER(\"straße\")"), json!(["STRASSE"]));
    assert_eq!(eval("LOWER([\"AbC\", null])"), json!(["abc", null]));
    assert_eq!(eval("TRIM(\"  a b  \")"), json!(["a b"]));
}

#[test]
fn select_filters() {
    assert_eq!(
        eval("SELECT([1, 2, 3, 4], [1, 2, 3, 4] > 2)"),
        json!([3, 4])
    );
    assert_eq!(eval("SELECT([1, 2], true)"), json!([1, 2]));
    assert_eq!(eval("SELECT([1, 2], false)"), json!([]));
    assert_eq!(
        eval("SELECT([\"a\", \"b\"], [\"true\", null])"),
        json!(["a"])
    );
    assert_eq!(
        eval_error("SELECT([1, 2, 3], [true, false])"),
        "SELECT: 3 values but 2 conditions (give one condition per value, or one for all)"
    );
}

#[test]
fn group_distinct_first_seen() {
    assert_eq!(eval("GROUP([3, 1, 3, 2, 1])"), json!([3, 1, 2]));
    assert_eq!(
        eval("GROUP([1, \"1\", null, null, 0, -0])"),
        json!([1, "1", null, 0])
    );
    assert_eq!(eval("GROUP([])"), json!([]));
}

#[test]
fn sort() {
    assert_eq!(eval("SORT([3, 1, 2])"), json!([1, 2, 3]));
    assert_eq!(eval("SORT([3, 1, 2], \"desc\")"), json!([3, 2, 1]));
    assert_eq!(
        eval("SORT([\"10\", \"9\", null, \"100\"])"),
        json!(["9", "10", "100", null])
    );
    assert_eq!(
        eval("SORT([\"10\", \"9\", null], \"DESC\")"),
        json!(["10", "9", null])
    );
    assert_eq!(eval("SORT([\"b\", \"a\", \"C\"])"), json!(["C", "a", "b"]));
    assert_eq!(eval("SORT([\"b\", 2, true, 1])"), json!([true, 1, 2, "b"]));
    assert_eq!(
        eval("SORT([DATE(\"2024-05-01\"), DATE(\"2023-01-01\")])"),
        json!(["2023-01-01T00:00:00Z", "2024-05-01T00:00:00Z"])
    );
    assert_eq!(
        eval_error("SORT([1], \"sideways\" & \"\")"),
        "SORT: order must be \"asc\" or \"desc\", got \"sideways\""
    );
    assert_eq!(
        eval_error("SORT([1], 1)"),
        "SORT: order must be a single text, \"asc\" or \"desc\""
    );
}
