//! Operators: arithmetic, comparison, logic, concatenation, and element-wise broadcasting.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{context, eval, eval_error, eval_error_in, eval_in};
use serde_json::json;
use trellis_formula::Data;

#[test]
fn arithmetic_and_precedence() {
    assert_eq!(eval("1 + 2 * 3"), json!([7]));
    assert_eq!(eval("(1 + 2) * 3"), json!([9]));
    assert_eq!(eval("10 - 4 - 3"), json!([3]));
    assert_eq!(eval("7 / 2"), json!([3.5]));
    assert_eq!(eval("7 % 3"), json!([1]));
    assert_eq!(eval("-7 % 3"), json!([-1]));
    assert_eq!(eval("-2 * -3"), json!([6]));
    assert_eq!(eval("--2"), json!([2]));
    assert_eq!(eval("+2"), json!([2]));
    assert_eq!(eval("2 * 3 & \"x\""), json!(["6x"]));
    assert_eq!(eval("1 + 2 = 3 and 2 > 1"), json!([true]));
    assert_eq!(eval("0.1 + 0.2"), json!([0.30000000000000004]));
}

#[test]
fn division_by_zero_is_null() {
    assert_eq!(eval("1 / 0"), json!([null]));
    assert_eq!(eval("5 % 0"), json!([null]));
    assert_eq!(eval("[4, 6] / [2, 0]"), json!([2, null]));
}

#[test]
fn null_propagates_through_arithmetic() {
    assert_eq!(eval("null + 1"), json!([null]));
    assert_eq!(eval("-null"), json!([null]));
    assert_eq!(eval("\"\" * 2"), json!([null]));
}

#[test]
fn text_is_read_as_a_number_in_arithmetic() {
    assert_eq!(eval("\"12.5\" * 2"), json!([25]));
    assert_eq!(eval("\" 3 \" - 1"), json!([2]));
    assert_eq!(
        eval_error("\"abc\" + 1"),
        "operator '+': expected a number, got text \"abc\""
    );
    assert_eq!(
        eval_error("true * 2"),
        "operator '*': expected a number, got boolean true"
    );
    assert_eq!(
        eval_error("-\"x\""),
        "operator '-': expected a number, got text \"x\""
    );
}

#[test]
fn overflow_is_an_error() {
    assert_eq!(
        eval_error("1e308 * 10"),
        "operator '*': the result is too large"
    );
}

#[test]
fn comparisons() {
    assert_eq!(eval("[1, 2, 3] > 1"), json!([false, true, true]));
    assert_eq!(eval("[1, 2, 3] >= 2"), json!([false, true, true]));
    assert_eq!(eval("[1, 2, 3] < 2"), json!([true, false, false]));
    assert_eq!(eval("[1, 2, 3] <= 2"), json!([true, true, false]));
    assert_eq!(eval("[1, 2, 3] = 2"), json!([false, true, false]));
    assert_eq!(eval("[1, 2, 3] != 2"), json!([true, false, true]));
    assert_eq!(eval("2 == 2"), json!([true]));
    assert_eq!(eval("2 <> 2"), json!([false]));
    assert_eq!(eval("\"9\" < \"10\""), json!([true]));
    assert_eq!(eval("\"b\" > \"a\""), json!([true]));
    assert_eq!(eval("\"7\" = 7"), json!([true]));
    assert_eq!(eval("\"abc\" = 7"), json!([false]));
    assert_eq!(eval("null = null"), json!([true]));
    assert_eq!(eval("null < 1"), json!([false]));
    assert_eq!(eval("null >= 1"), json!([false]));
    assert_eq!(eval("\"TRUE\" = true"), json!([true]));
    assert_eq!(eval("DATE(\"2024-01-02\") > \"2024-01-01\""), json!([true]));
    assert_eq!(
        eval_error("1 < \"abc\""),
        "operator '<': cannot compare number 1 with text \"abc\""
    );
    assert_eq!(
        eval_error("true < 1"),
        "operator '<': cannot compare boolean true with number 1"
    );
}

#[test]
fn logic() {
    assert_eq!(eval("true and false"), json!([false]));
    assert_eq!(eval("true && true"), json!([true]));
    assert_eq!(eval("false or true"), json!([true]));
    assert_eq!(eval("false || false"), json!([false]));
    assert_eq!(eval("not true"), json!([false]));
    assert_eq!(eval("!false"), json!([true]));
    assert_eq!(eval("NOT 1 = 2"), json!([true]));
    assert_eq!(eval("[true, false] and [true, true]"), json!([true, false]));
    assert_eq!(
        eval("not [0, 1, null, \"false\"]"),
        json!([true, false, true, true])
    );
    assert_eq!(
        eval_error("\"maybe\" or true"),
        "operator 'or': expected true or false, got text \"maybe\""
    );
}

#[test]
fn concatenation() {
    assert_eq!(eval("\"a\" & 1 & true & null"), json!(["a1true"]));
    assert_eq!(eval("[\"a\", \"b\"] & \"!\""), json!(["a!", "b!"]));
    assert_eq!(eval("2.50 & \"\""), json!(["2.5"]));
}

#[test]
fn broadcasting() {
    assert_eq!(eval("[1, 2, 3] + 10"), json!([11, 12, 13]));
    assert_eq!(eval("10 - [1, 2, 3]"), json!([9, 8, 7]));
    assert_eq!(eval("[1, 2, 3] * [4, 5, 6]"), json!([4, 10, 18]));
    assert_eq!(eval("-[1, 2]"), json!([-1, -2]));
    assert_eq!(eval("[] + 1"), json!([]));
    assert_eq!(
        eval_error("[1, 2] + [1, 2, 3]"),
        "operator '+': cannot combine a list of 2 values with a list of 3 \
         (lists must have the same length, or one value)"
    );
}

#[test]
fn array_literals_concatenate() {
    assert_eq!(eval("[1, [2, 3], []]"), json!([1, 2, 3]));
    assert_eq!(eval("[\"a\", null, true]"), json!(["a", null, true]));
    assert_eq!(eval("[10, 20, 30][1]"), json!([20]));
    assert_eq!(eval("[10, 20, 30][-1]"), json!([30]));
    assert_eq!(eval("[10, 20, 30][3]"), json!([null]));
}

#[test]
fn variables_are_text_read_as_numbers_when_needed() {
    let ctx = context(vec![], &[("companyID", "42"), ("name", "Acme")]);
    assert_eq!(eval_in(&ctx, "$companyID"), json!(["42"]));
    assert_eq!(eval_in(&ctx, "$companyID + 1"), json!([43]));
    assert_eq!(eval_in(&ctx, "$companyID = 42"), json!([true]));
    assert_eq!(eval_in(&ctx, "\"Hi \" & $name"), json!(["Hi Acme"]));
    assert_eq!(
        eval_error_in(&ctx, "$missing"),
        "variable $missing is not set"
    );
    assert_eq!(
        eval_error_in(&ctx, "$name * 2"),
        "operator '*': expected a number, got text \"Acme\""
    );
}

#[test]
fn binding_errors() {
    let ctx = context(vec![Some(Data::Json(json!(1))), None], &[]);
    assert_eq!(eval_in(&ctx, "@0"), json!([1]));
    assert_eq!(eval_error_in(&ctx, "@1.a"), "binding @1 has no data yet");
    assert_eq!(eval_error_in(&ctx, "SUM(@2)"), "binding @2 is not bound");
}
