//! Trellis's formula language for Klip components: a parser with positioned errors and an
//! evaluator for array-valued expressions over the cached data of a Klip's bindings.
//!
//! ```
//! use trellis_formula::{evaluate, parse, Data, EvalContext};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! let formula = parse("SUM(SELECT(@0.items.amount, @0.items.paid)) * $rate")?;
//! assert_eq!(formula.bindings().into_iter().collect::<Vec<_>>(), [0]);
//!
//! let mut ctx = EvalContext::new(chrono::Utc::now());
//! ctx.bindings.push(Some(Arc::new(Data::Json(json!({
//!     "items": [
//!         {"amount": 10, "paid": true},
//!         {"amount": 5, "paid": false},
//!         {"amount": "2.5", "paid": true},
//!     ]
//! })))));
//! ctx.variables.insert("rate".into(), "2".into());
//! assert_eq!(evaluate(&formula, &ctx)?.to_json(), json!([25]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The module layout follows the pipeline: `lexer` → `parser` (building `ast`, printed back
//! by `printer`) → `eval` (with `path` for data references, `ops` and `functions`, which use
//! `coerce`, `compare` and `broadcast`) → [`Value`], every step counted against a
//! [`Budget`] (`budget`).
//!
//! The language reference below is `docs/formulas.md` in the repository.
//!
#![doc = include_str!("../../../docs/formulas.md")]

mod ast;
mod broadcast;
mod budget;
mod coerce;
mod compare;
mod data;
mod error;
mod eval;
mod formula;
mod functions;
mod lexer;
mod ops;
mod parser;
mod path;
mod printer;
mod value;

#[cfg(test)]
mod proptests;

pub use budget::{Budget, DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS, Usage};
pub use data::Data;
pub use error::{ErrorKind, EvalError, ParseError};
pub use eval::{EvalContext, evaluate, evaluate_within};
pub use formula::Formula;
pub use parser::{MAX_FORMULA_CHARS, MAX_NESTING, parse};
pub use value::{Scalar, Value};
