//! Every kind of parse error, with its position.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::parse_error;
use trellis_formula::{MAX_FORMULA_CHARS, MAX_NESTING, parse};

fn at(line: usize, column: usize, message: &str) -> (usize, usize, String) {
    (line, column, message.to_string())
}

#[test]
fn display_puts_the_position_first() {
    let error = parse("SUM(1, 2").unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1, column 9: expected ',' or ')', found end of formula"
    );
    assert_eq!(error.offset, 8);
}

#[test]
fn empty_formula() {
    assert_eq!(parse_error(""), at(1, 1, "formula is empty"));
    assert_eq!(parse_error("  \n "), at(1, 1, "formula is empty"));
}

#[test]
fn too_long() {
    let long = format!("1{}", " ".repeat(MAX_FORMULA_CHARS));
    assert_eq!(
        parse_error(&long),
        at(
            1,
            MAX_FORMULA_CHARS + 1,
            "formula is too long (more than 10000 characters)"
        )
    );
    assert!(parse(&format!("1{}", " ".repeat(MAX_FORMULA_CHARS - 1))).is_ok());
}

#[test]
fn too_deep() {
    let message = "formula nests too deeply (more than 64 levels)";
    let parens = format!("{}1{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(parse_error(&parens), at(1, MAX_NESTING + 1, message));
    let minus = format!("{}1", "-".repeat(200));
    assert_eq!(parse_error(&minus).2, message);
    let nots = format!("{}true", "not ".repeat(200));
    assert_eq!(parse_error(&nots).2, message);
    let calls = format!("{}1{}", "ABS(".repeat(100), ")".repeat(100));
    assert_eq!(parse_error(&calls).2, message);
    let arrays = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(parse_error(&arrays).2, message);
    // A long flat chain nests in the tree, so it is limited too, at the operator.
    let chain = vec!["1"; 100].join("+");
    assert_eq!(parse_error(&chain), at(1, 2 * MAX_NESTING, message));
    assert!(parse(&vec!["1"; MAX_NESTING].join("+")).is_ok());
    // Huge inputs fail fast instead of overflowing the stack.
    assert!(parse(&"(".repeat(9_999)).is_err());
    assert!(parse(&"-".repeat(9_999)).is_err());
}

#[test]
fn unterminated_string() {
    assert_eq!(parse_error("CONCAT(\"abc"), at(1, 8, "unterminated string"));
    assert_eq!(parse_error("\"abc\\"), at(1, 1, "unterminated string"));
}

#[test]
fn bad_escapes() {
    assert_eq!(
        parse_error(r#"1 & "a\qb""#),
        at(1, 7, "invalid escape '\\q' in string")
    );
    assert_eq!(
        parse_error(r#""\u00""#),
        at(
            1,
            2,
            "invalid unicode escape (expected \\u and 4 hex digits of a character)"
        )
    );
}

#[test]
fn unexpected_characters() {
    assert_eq!(parse_error("1 # 2"), at(1, 3, "unexpected character '#'"));
    assert_eq!(
        parse_error("1 | 2"),
        at(1, 3, "unexpected character '|' (did you mean '||'?)")
    );
    assert_eq!(parse_error("'text'"), at(1, 1, "unexpected character '''"));
}

#[test]
fn bad_bindings_and_variables() {
    assert_eq!(
        parse_error("@ + 1"),
        at(1, 1, "expected a binding number after '@'")
    );
    assert_eq!(
        parse_error("1 + @1000"),
        at(1, 5, "binding number is too large (at most 999)")
    );
    assert_eq!(
        parse_error("$ + 1"),
        at(1, 1, "expected a variable name after '$'")
    );
}

#[test]
fn unexpected_tokens() {
    assert_eq!(
        parse_error("1 +"),
        at(1, 4, "expected an expression, found end of formula")
    );
    assert_eq!(
        parse_error("1 2"),
        at(
            1,
            3,
            "expected an operator or the end of the formula, found number 2"
        )
    );
    assert_eq!(
        parse_error("(1 + 2"),
        at(1, 7, "expected ')', found end of formula")
    );
    assert_eq!(parse_error("1 + 2)"), at(1, 6, "unexpected ')'"));
    assert_eq!(
        parse_error("* 2"),
        at(1, 1, "expected an expression, found '*'")
    );
    assert_eq!(
        parse_error("[1, 2"),
        at(1, 6, "expected ',' or ']', found end of formula")
    );
    assert_eq!(
        parse_error("SUM(1,)"),
        at(1, 7, "expected an expression, found ')'")
    );
    assert_eq!(
        parse_error("1 and and"),
        at(1, 7, "expected an expression, found 'and'")
    );
}

#[test]
fn positions_on_later_lines() {
    assert_eq!(
        parse_error("SUM(@0.a)\n  + )"),
        at(2, 5, "expected an expression, found ')'")
    );
    assert_eq!(
        parse_error("\"é\" &\n\tfoo"),
        at(
            2,
            2,
            "unknown name 'foo' (variables start with '$', functions need parentheses, text needs quotes)"
        )
    );
}

#[test]
fn bad_paths() {
    assert_eq!(
        parse_error("@0."),
        at(
            1,
            4,
            "expected a field name after '.', found end of formula"
        )
    );
    assert_eq!(
        parse_error("@0.+"),
        at(1, 4, "expected a field name after '.', found '+'")
    );
    assert_eq!(
        parse_error("@0[1.5]"),
        at(1, 4, "an index must be a whole number")
    );
    assert_eq!(
        parse_error("@0[$x]"),
        at(
            1,
            4,
            "expected a whole number or a string inside '[ ]', found '$x'"
        )
    );
    assert_eq!(
        parse_error("@0[-\"a\"]"),
        at(
            1,
            5,
            "expected a whole number or a string inside '[ ]', found a string"
        )
    );
    assert_eq!(
        parse_error("@0[0"),
        at(1, 5, "expected ']', found end of formula")
    );
}

#[test]
fn unknown_functions_and_names() {
    assert_eq!(
        parse_error("1 + SUMM(@0)"),
        at(1, 5, "unknown function SUMM")
    );
    assert_eq!(
        parse_error("amount * 2"),
        at(
            1,
            1,
            "unknown name 'amount' (variables start with '$', functions need parentheses, text needs quotes)"
        )
    );
}

#[test]
fn wrong_argument_counts() {
    assert_eq!(
        parse_error("SUM()"),
        at(1, 1, "SUM expects at least 1 argument, got 0")
    );
    assert_eq!(
        parse_error("1 + IF(1, 2)"),
        at(1, 5, "IF expects 3 arguments, got 2")
    );
    assert_eq!(
        parse_error("round(1, 2, 3)"),
        at(1, 1, "ROUND expects 1 to 2 arguments, got 3")
    );
    assert_eq!(
        parse_error("TODAY(1)"),
        at(1, 1, "TODAY expects 0 arguments, got 1")
    );
}

#[test]
fn chained_comparisons() {
    assert_eq!(
        parse_error("1 < 2 < 3"),
        at(
            1,
            7,
            "comparisons cannot be chained; combine them with 'and'"
        )
    );
    assert!(parse("(1 < 2) = true").is_ok());
}

#[test]
fn invalid_literal_arguments() {
    assert_eq!(
        parse_error("SORT(@0, \"up\")"),
        at(1, 10, "SORT: order must be \"asc\" or \"desc\", got \"up\"")
    );
    assert_eq!(
        parse_error("DATEADD(TODAY(), SUM([1, 2]), \"fortnight\")"),
        at(
            1,
            31,
            "DATEADD: unknown unit \"fortnight\" (use seconds, minutes, hours, days, weeks, months or years)"
        )
    );
    assert_eq!(
        parse_error("FORMATDATE(NOW(), \"%Q\")"),
        at(1, 19, "FORMATDATE: invalid date pattern \"%Q\"")
    );
    assert_eq!(
        parse_error("DATE(@0.d, \"%\")").2,
        "DATE: invalid date pattern \"%\""
    );
}

#[test]
fn numbers_too_large() {
    assert_eq!(parse_error("1e999"), at(1, 1, "number is too large"));
}

#[test]
fn accepted_syntax() {
    for src in [
        "1",
        "-1.5e3",
        "\"a\\\"b\"",
        "true and FALSE or Null",
        "[]",
        "[1, [2, 3]]",
        "@0",
        "@12.items[0].name",
        "@0[\"field with space\"][-1]",
        "@0.2024.total",
        "$companyID",
        "not @0.a == 1 && !(@0.b <> 2) || @0.c != 3",
        "@0.x >= 1 and @0.y <= 2 and @0.z > 3 and @0.w < 4",
        "1 + 2 - 3 * 4 / 5 % 6 & \"x\"",
        "sum(@0.a)",
        "Sum(@0.a, @1.b)",
        "IF(@0.a > 1, \"big\", \"small\")",
        "SORT(@0.a, \"DESC\")",
        "(SELECT(@0.items, @0.items.paid)).name",
        "DATEADD(TODAY(), -7, \"days\")",
        "TODAY()",
        "  1\n+\t2  ",
    ] {
        parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    }
}

#[test]
fn deepest_accepted_formulas_parse_and_evaluate() {
    let parens = format!(
        "{}1{}",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    assert_eq!(common::eval(&parens), serde_json::json!([1]));
    let calls = format!(
        "{}-1{}",
        "ABS(".repeat(MAX_NESTING - 2),
        ")".repeat(MAX_NESTING - 2)
    );
    assert_eq!(common::eval(&calls), serde_json::json!([1]));
    let chain = vec!["1"; MAX_NESTING].join(" + ");
    assert_eq!(common::eval(&chain), serde_json::json!([64]));
}
