//! Evaluation of a parsed formula over the cached data of its bindings.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::ast::Expr;
use crate::budget::{Budget, Meter, SCALAR_BYTES, Usage};
use crate::coerce::truth;
use crate::data::Data;
use crate::error::EvalError;
use crate::formula::Formula;
use crate::functions::{self, Function};
use crate::ops;
use crate::path::{data_nodes, follow, into_value, value_nodes};
use crate::value::{Scalar, Value};

/// Everything a formula may read.
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// Binding `@i`'s data at index `i`; `None` while the data source has no cached data yet.
    /// Shared, so bindings reading the same data hold one copy of it.
    pub bindings: Vec<Option<Arc<Data>>>,
    /// Variable values by name (without the `$`). Values are text; arithmetic reads them as
    /// numbers.
    pub variables: BTreeMap<String, String>,
    /// The clock `TODAY()` and `NOW()` read, injected so rendering is reproducible.
    pub now: DateTime<Utc>,
}

impl EvalContext {
    /// A context with no bindings and no variables.
    pub fn new(now: DateTime<Utc>) -> Self {
        EvalContext {
            bindings: Vec::new(),
            variables: BTreeMap::new(),
            now,
        }
    }

    fn data(&self, index: usize) -> Result<&Data, EvalError> {
        match self.bindings.get(index) {
            Some(Some(data)) => Ok(data),
            Some(None) => Err(EvalError::new(format!("binding @{index} has no data yet"))),
            None => Err(EvalError::new(format!("binding @{index} is not bound"))),
        }
    }
}

/// Evaluates `formula` over `ctx` within the default [`Budget`].
///
/// # Errors
///
/// An [`EvalError`] naming the cause: a binding that is not bound or has no data yet, an
/// unset variable, text where a number, date or boolean is needed, lists of different
/// lengths combined element-wise, a number or date out of range, or a formula that needs
/// more steps or bytes than the budget allows.
pub fn evaluate(formula: &Formula, ctx: &EvalContext) -> Result<Value, EvalError> {
    evaluate_within(formula, ctx, &Budget::default()).0
}

/// Evaluates `formula` over `ctx` within `budget`, and tells what it spent (also when it
/// failed, up to the failure). A set cancellation flag stops it within a few steps.
pub fn evaluate_within(
    formula: &Formula,
    ctx: &EvalContext,
    budget: &Budget,
) -> (Result<Value, EvalError>, Usage) {
    let meter = Meter::new(budget);
    let result = meter
        .check_cancel()
        .and_then(|()| eval(formula.expr(), ctx, &meter));
    (result, meter.usage())
}

fn eval(expr: &Expr, ctx: &EvalContext, meter: &Meter) -> Result<Value, EvalError> {
    meter.steps(1)?;
    Ok(match expr {
        Expr::Null => Scalar::Null.into(),
        Expr::Bool(b) => Scalar::Bool(*b).into(),
        Expr::Number(n) => Scalar::Number(*n).into(),
        Expr::Text(text) => {
            meter.bytes(SCALAR_BYTES + text.len(), "a text")?;
            Scalar::Text(text.clone()).into()
        }
        // The elements' values are moved, not copied: they were counted when they were built.
        Expr::Array(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(eval(item, ctx, meter)?.0);
            }
            Value(all)
        }
        Expr::Binding(index) => into_value(
            data_nodes(ctx.data(*index)?, meter)?,
            meter,
            &format!("@{index}"),
        )?,
        Expr::Variable(name) => match ctx.variables.get(name) {
            Some(text) => {
                meter.bytes(SCALAR_BYTES + text.len(), &format!("${name}"))?;
                Scalar::Text(text.clone()).into()
            }
            None => return Err(EvalError::new(format!("variable ${name} is not set"))),
        },
        // Reading straight from the binding's data copies only what the path ends on.
        Expr::Path(base, steps) => match &**base {
            Expr::Binding(index) => {
                let nodes = follow(data_nodes(ctx.data(*index)?, meter)?, steps, meter)?;
                into_value(nodes, meter, &format!("@{index}"))?
            }
            base => {
                let base = eval(base, ctx, meter)?;
                into_value(follow(value_nodes(&base), steps, meter)?, meter, "a path")?
            }
        },
        Expr::Unary(op, operand) => {
            let operand = eval(operand, ctx, meter)?;
            meter.steps(operand.len())?;
            ops::unary(*op, &operand, meter)?
        }
        Expr::Binary(op, left, right) => {
            let left = eval(left, ctx, meter)?;
            let right = eval(right, ctx, meter)?;
            meter.steps(left.len() + right.len())?;
            ops::binary(*op, &left, &right, meter)?
        }
        Expr::Call(Function::If, args) => conditional(args, ctx, meter)?,
        Expr::Call(function, args) => {
            let args = args
                .iter()
                .map(|arg| eval(arg, ctx, meter))
                .collect::<Result<Vec<_>, _>>()?;
            meter.steps(args.iter().map(Value::len).sum())?;
            functions::call(*function, &args, ctx.now, meter)?
        }
    })
}

/// `IF(condition, then, otherwise)`. A single condition picks a whole branch and evaluates
/// only that one, so the branches may differ in length; a list of conditions picks element by
/// element.
fn conditional(args: &[Expr], ctx: &EvalContext, meter: &Meter) -> Result<Value, EvalError> {
    let [condition, then, otherwise] = args else {
        return functions::call(Function::If, &[], ctx.now, meter);
    };
    let condition = eval(condition, ctx, meter)?;
    if let Some(single) = condition.single() {
        let branch = if truth(single, "IF")? {
            then
        } else {
            otherwise
        };
        return eval(branch, ctx, meter);
    }
    let then = eval(then, ctx, meter)?;
    let otherwise = eval(otherwise, ctx, meter)?;
    meter.steps(condition.len() + then.len() + otherwise.len())?;
    functions::call(Function::If, &[condition, then, otherwise], ctx.now, meter)
}
