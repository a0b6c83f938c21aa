//! The operators, applied element-wise.

use crate::ast::{BinaryOp, UnaryOp};
use crate::broadcast::zip_with;
use crate::budget::Meter;
use crate::coerce::{number, truth};
use crate::compare::{equals, order};
use crate::error::EvalError;
use crate::functions::joined;
use crate::value::{Scalar, Value};

pub(crate) fn unary(op: UnaryOp, operand: &Value, meter: &Meter) -> Result<Value, EvalError> {
    match op {
        UnaryOp::Neg => zip_with(meter, [operand], "operator '-'", |[x]| {
            Ok(number(x, "operator '-'")?.map_or(Scalar::Null, |n| Scalar::Number(-n)))
        }),
        UnaryOp::Not => zip_with(meter, [operand], "operator 'not'", |[x]| {
            Ok(Scalar::Bool(!truth(x, "operator 'not'")?))
        }),
    }
}

pub(crate) fn binary(
    op: BinaryOp,
    left: &Value,
    right: &Value,
    meter: &Meter,
) -> Result<Value, EvalError> {
    let context = format!("operator '{}'", op.symbol());
    zip_with(meter, [left, right], &context, |[a, b]| {
        Ok(match op {
            BinaryOp::Or => Scalar::Bool(truth(a, &context)? || truth(b, &context)?),
            BinaryOp::And => Scalar::Bool(truth(a, &context)? && truth(b, &context)?),
            BinaryOp::Eq => Scalar::Bool(equals(a, b)),
            BinaryOp::Ne => Scalar::Bool(!equals(a, b)),
            BinaryOp::Lt => Scalar::Bool(order(a, b, &context)?.is_some_and(|o| o.is_lt())),
            BinaryOp::Le => Scalar::Bool(order(a, b, &context)?.is_some_and(|o| o.is_le())),
            BinaryOp::Gt => Scalar::Bool(order(a, b, &context)?.is_some_and(|o| o.is_gt())),
            BinaryOp::Ge => Scalar::Bool(order(a, b, &context)?.is_some_and(|o| o.is_ge())),
            BinaryOp::Concat => joined(&[a, b], meter, &context)?,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                arithmetic(op, a, b, &context)?
            }
        })
    })
}

/// Null in, null out; dividing by zero gives null rather than failing the whole list.
fn arithmetic(op: BinaryOp, a: &Scalar, b: &Scalar, context: &str) -> Result<Scalar, EvalError> {
    // Both sides are read first, so bad text is reported even next to a null.
    let (Some(x), Some(y)) = (number(a, context)?, number(b, context)?) else {
        return Ok(Scalar::Null);
    };
    let result = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div | BinaryOp::Rem if y == 0.0 => return Ok(Scalar::Null),
        BinaryOp::Div => x / y,
        _ => x % y,
    };
    finite(result, context)
}

/// Numbers stay finite: an overflow is an error rather than an infinity in the output.
pub(crate) fn finite(n: f64, context: &str) -> Result<Scalar, EvalError> {
    if n.is_finite() {
        Ok(Scalar::Number(n))
    } else {
        Err(EvalError::new(format!(
            "{context}: the result is too large"
        )))
    }
}
