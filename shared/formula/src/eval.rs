//! Evaluation of a parsed formula over the cached data of its bindings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ast::Expr;
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
    pub bindings: Vec<Option<Data>>,
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

/// Evaluates `formula` over `ctx`.
///
/// # Errors
///
/// An [`EvalError`] naming the cause: a binding that is not bound or has no data yet, an
/// unset variable, text where a number, date or boolean is needed, lists of different
/// lengths combined element-wise, or a number or date out of range.
pub fn evaluate(formula: &Formula, ctx: &EvalContext) -> Result<Value, EvalError> {
    eval(formula.expr(), ctx)
}

fn eval(expr: &Expr, ctx: &EvalContext) -> Result<Value, EvalError> {
    Ok(match expr {
        Expr::Null => Scalar::Null.into(),
        Expr::Bool(b) => Scalar::Bool(*b).into(),
        Expr::Number(n) => Scalar::Number(*n).into(),
        Expr::Text(text) => Scalar::Text(text.clone()).into(),
        Expr::Array(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(eval(item, ctx)?.0);
            }
            Value(all)
        }
        Expr::Binding(index) => into_value(data_nodes(ctx.data(*index)?)),
        Expr::Variable(name) => match ctx.variables.get(name) {
            Some(text) => Scalar::Text(text.clone()).into(),
            None => return Err(EvalError::new(format!("variable ${name} is not set"))),
        },
        // Reading straight from the binding's data copies only what the path ends on.
        Expr::Path(base, steps) => match &**base {
            Expr::Binding(index) => into_value(follow(data_nodes(ctx.data(*index)?), steps)),
            base => {
                let base = eval(base, ctx)?;
                into_value(follow(value_nodes(&base), steps))
            }
        },
        Expr::Unary(op, operand) => ops::unary(*op, &eval(operand, ctx)?)?,
        Expr::Binary(op, left, right) => ops::binary(*op, &eval(left, ctx)?, &eval(right, ctx)?)?,
        Expr::Call(Function::If, args) => conditional(args, ctx)?,
        Expr::Call(function, args) => {
            let args = args
                .iter()
                .map(|arg| eval(arg, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            functions::call(*function, &args, ctx.now)?
        }
    })
}

/// `IF(condition, then, otherwise)`. A single condition picks a whole branch and evaluates
/// only that one, so the branches may differ in length; a list of conditions picks element by
/// element.
fn conditional(args: &[Expr], ctx: &EvalContext) -> Result<Value, EvalError> {
    let [condition, then, otherwise] = args else {
        return functions::call(Function::If, &[], ctx.now);
    };
    let condition = eval(condition, ctx)?;
    if let Some(single) = condition.single() {
        let branch = if truth(single, "IF")? {
            then
        } else {
            otherwise
        };
        return eval(branch, ctx);
    }
    let then = eval(then, ctx)?;
    let otherwise = eval(otherwise, ctx)?;
    functions::call(Function::If, &[condition, then, otherwise], ctx.now)
}
