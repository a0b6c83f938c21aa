//! Helpers shared by the integration tests.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::Value as Json;
use trellis_formula::{Data, EvalContext, ParseError, evaluate, parse};

/// A context at 2024-03-15T10:30:00Z with the given bindings and variables.
pub fn context(bindings: Vec<Option<Data>>, variables: &[(&str, &str)]) -> EvalContext {
    let mut ctx = EvalContext::new(Utc.with_ymd_and_hms(2024, 3, 15, 10, 30, 0).unwrap());
    ctx.bindings = bindings
        .into_iter()
        .map(|data| data.map(Arc::new))
        .collect();
    ctx.variables = variables
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    ctx
}

/// A CSV table as production reads it: the refresh service's reader (the csv crate, every
/// record a row, rows of any length), then the library service's step that takes the first
/// row as the header.
pub fn csv_table(text: &str) -> Data {
    let mut records = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .into_records()
        .map(|record| {
            let record = record.unwrap_or_else(|e| panic!("{text:?} is not CSV: {e}"));
            record.iter().map(str::to_owned).collect::<Vec<_>>()
        });
    let headers = records.next().unwrap_or_default();
    Data::Csv {
        headers,
        rows: records.collect(),
    }
}

/// Evaluates `src` in `ctx` and returns the JSON output; panics on any error.
pub fn eval_in(ctx: &EvalContext, src: &str) -> Json {
    let formula = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    evaluate(&formula, ctx)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .to_json()
}

/// Evaluates `src` with no data.
pub fn eval(src: &str) -> Json {
    eval_in(&context(vec![], &[]), src)
}

/// The evaluation error of `src` in `ctx`.
pub fn eval_error_in(ctx: &EvalContext, src: &str) -> String {
    let formula = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    match evaluate(&formula, ctx) {
        Ok(value) => panic!("{src}: expected an error, got {:?}", value.to_json()),
        Err(error) => error.message().to_string(),
    }
}

pub fn eval_error(src: &str) -> String {
    eval_error_in(&context(vec![], &[]), src)
}

/// The parse error of `src`: (line, column, message).
pub fn parse_error(src: &str) -> (usize, usize, String) {
    match parse(src) {
        Ok(formula) => panic!("{src}: expected a parse error, got {formula:?}"),
        Err(ParseError {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
    }
}
