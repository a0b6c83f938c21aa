//! The evaluation budget: steps and bytes stop a formula with an error naming the budget,
//! text is built in linear time, and a cancelled evaluation stops.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::context;
use serde_json::json;
use trellis_formula::{
    Budget, DEFAULT_MAX_BYTES, Data, ErrorKind, EvalContext, Usage, evaluate, evaluate_within,
    parse,
};

const MB: usize = 1_000_000;

fn run(
    ctx: &EvalContext,
    src: &str,
    budget: &Budget,
) -> (Result<serde_json::Value, String>, Usage) {
    let formula = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let (result, usage) = evaluate_within(&formula, ctx, budget);
    (
        result
            .map(|value| value.to_json())
            .map_err(|error| format!("{:?}: {}", error.kind(), error.message())),
        usage,
    )
}

fn kind_of(ctx: &EvalContext, src: &str, budget: &Budget) -> (ErrorKind, String, Usage) {
    let formula = parse(src).unwrap();
    let (result, usage) = evaluate_within(&formula, ctx, budget);
    let error = result.expect_err("the budget stops it");
    (error.kind(), error.message().to_owned(), usage)
}

/// `CONCAT` of `terms` copies of `term` (1,997 of `@0.t` fit in the formula length limit).
fn concat_of(term: &str, terms: usize) -> String {
    format!("CONCAT({})", vec![term; terms].join(","))
}

fn big_text(bytes: usize) -> EvalContext {
    let text = "x".repeat(bytes);
    let mut ctx = context(vec![Some(Data::Json(json!({ "t": text.clone() })))], &[]);
    ctx.variables.insert("t".into(), text);
    ctx
}

#[test]
fn concat_costs_grow_linearly_with_its_terms() {
    let ctx = big_text(10_000);
    let usage = |terms| run(&ctx, &concat_of("@0.t", terms), &Budget::default()).1;
    let costs: Vec<Usage> = [10, 20, 40, 80].into_iter().map(usage).collect();
    // Doubling the terms doubles what the previous doubling added: bytes copied and steps
    // both grow in proportion to the terms, not their square.
    for window in costs.windows(3) {
        let [a, b, c] = window else { unreachable!() };
        assert_eq!(c.bytes - b.bytes, 2 * (b.bytes - a.bytes), "{costs:?}");
        assert_eq!(c.steps - b.steps, 2 * (b.steps - a.steps), "{costs:?}");
    }
    // Each term is copied twice: read from the data, then into the result.
    let per_term = (costs[1].bytes - costs[0].bytes) / 10;
    assert!(per_term < 2 * 10_000 + 100, "{per_term} bytes per term");
}

#[test]
fn the_concatenation_operator_is_linear_too() {
    let ctx = big_text(1000);
    let cost = |terms: usize| {
        let src = format!("CONCAT({})", vec!["$t & \"-\""; terms].join(", "));
        run(&ctx, &src, &Budget::default()).1.bytes
    };
    let (a, b, c) = (cost(10), cost(20), cost(40));
    assert_eq!(c - b, 2 * (b - a));
}

#[test]
fn concat_of_1997_megabyte_terms_stops_early_at_the_byte_budget() {
    let ctx = big_text(MB);
    for term in ["@0.t", "$t"] {
        let src = concat_of(term, 1997);
        let (kind, message, usage) = kind_of(&ctx, &src, &Budget::default());
        assert_eq!(kind, ErrorKind::Bytes, "{message}");
        assert!(
            message.contains(&format!("more than {DEFAULT_MAX_BYTES} bytes")),
            "{message}"
        );
        // Stopped at the budget, after about 64 of the 1,997 terms: never past it.
        assert!(usage.bytes <= DEFAULT_MAX_BYTES, "{usage:?}");
        assert!(usage.bytes < 100 * MB as u64, "{usage:?}");
    }
}

#[test]
fn broadcasting_a_long_text_over_a_long_list_is_never_built() {
    let ids: Vec<_> = (0..100_000).collect();
    let mut ctx = big_text(MB);
    ctx.bindings
        .push(Some(Arc::new(Data::Json(json!({ "ids": ids })))));
    for src in [
        "@1.ids & @0.t",
        "CONCAT(@1.ids, @0.t)",
        "IF(@1.ids > 5, @0.t, \"\")",
        "JOIN(@1.ids, @0.t)",
    ] {
        let (kind, message, usage) = kind_of(&ctx, src, &Budget::default());
        assert_eq!(kind, ErrorKind::Bytes, "{src}: {message}");
        assert!(usage.bytes <= DEFAULT_MAX_BYTES, "{src}: {usage:?}");
    }
}

#[test]
fn the_step_budget_stops_long_work() {
    let numbers: Vec<_> = (0..10_000).collect();
    let ctx = context(vec![Some(Data::Json(json!({ "n": numbers })))], &[]);
    let src = "SUM(SORT(@0.n * 2 + 1))";
    let (result, spent) = run(&ctx, src, &Budget::default());
    assert_eq!(result, Ok(json!([100_000_000])));
    let small = Budget {
        max_steps: spent.steps / 2,
        ..Budget::default()
    };
    let (kind, message, _) = kind_of(&ctx, src, &small);
    assert_eq!(kind, ErrorKind::Steps);
    assert_eq!(
        message,
        format!(
            "the formula takes more than {} steps (its step budget)",
            small.max_steps
        )
    );
}

#[test]
fn a_cancelled_evaluation_stops() {
    let numbers: Vec<_> = (0..10_000).collect();
    let ctx = context(vec![Some(Data::Json(json!({ "n": numbers })))], &[]);
    let flag = Arc::new(AtomicBool::new(true));
    let budget = Budget {
        cancel: Some(flag),
        ..Budget::default()
    };
    let (kind, message, usage) = kind_of(&ctx, "SUM(@0.n)", &budget);
    assert_eq!(kind, ErrorKind::Cancelled);
    assert_eq!(message, "the evaluation was cancelled");
    assert_eq!(usage.steps, 0);
}

#[test]
fn evaluate_keeps_the_default_budget() {
    let ctx = big_text(MB);
    let formula = parse(&concat_of("$t", 100)).unwrap();
    let error = evaluate(&formula, &ctx).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Bytes);
}

/// A CSV table of `width` columns (named `c0`…) and `rows` rows of one cell each.
fn wide_table(width: usize, rows: usize) -> EvalContext {
    let headers = (0..width).map(|i| format!("c{i}")).collect();
    let rows = (0..rows).map(|i| vec![i.to_string()]).collect();
    context(vec![Some(Data::Csv { headers, rows })], &[])
}

#[test]
fn a_key_step_over_csv_rows_scans_the_header_once_and_pays_for_it() {
    let src = "COUNT(@0.c0) + COUNT(@0.missing)";
    let steps = |width, rows| {
        run(&wide_table(width, rows), src, &Budget::default())
            .1
            .steps
    };
    // Two key steps, each scanning the header row once: widening it by 10,000 columns costs
    // 20,000 steps, however many rows share it.
    for rows in [10, 1000] {
        assert_eq!(steps(10_010, rows) - steps(10, rows), 20_000, "{rows} rows");
    }
    // So a wide header row over many rows is bounded by the budget, not free.
    let small = Budget {
        max_steps: 5_000,
        ..Budget::default()
    };
    let (kind, _, usage) = kind_of(&wide_table(10_000, 1000), src, &small);
    assert_eq!(kind, ErrorKind::Steps);
    assert!(usage.steps <= 5_000 + 10_000, "{usage:?}");
}
