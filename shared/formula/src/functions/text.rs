//! Text functions: CONCAT, JOIN, LEN, UPPER, LOWER, TRIM.

use crate::broadcast::zip_with;
use crate::error::EvalError;
use crate::value::{Scalar, Value};

/// Element-wise concatenation, like `a & b & …`.
pub(super) fn concat(values: &[Value]) -> Result<Value, EvalError> {
    let mut result = Value::from(Scalar::Text(String::new()));
    for value in values {
        result = zip_with([&result, value], "CONCAT", |[a, b]| {
            Ok(Scalar::Text(format!("{a}{b}")))
        })?;
    }
    Ok(result)
}

/// All values as one text, nulls skipped, separated by `separator` (default `", "`).
pub(super) fn join(values: &Value, separator: Option<&Value>) -> Result<Value, EvalError> {
    let separator = match separator.map(Value::single) {
        None => ", ".to_string(),
        Some(Some(separator)) => separator.to_string(),
        Some(None) => return Err(EvalError::new("JOIN: the separator must be a single value")),
    };
    let parts: Vec<String> = values
        .iter()
        .filter(|value| **value != Scalar::Null)
        .map(Scalar::to_string)
        .collect();
    Ok(Scalar::Text(parts.join(&separator)).into())
}

/// Length in characters of each value's text form; null stays null.
pub(super) fn len(x: &Value) -> Result<Value, EvalError> {
    zip_with([x], "LEN", |[x]| {
        Ok(match x {
            Scalar::Null => Scalar::Null,
            x => Scalar::Number(x.to_string().chars().count() as f64),
        })
    })
}

/// Applies a text transformation to each value's text form; null stays null.
pub(super) fn map_text(
    x: &Value,
    name: &str,
    transform: impl Fn(&str) -> String,
) -> Result<Value, EvalError> {
    zip_with([x], name, |[x]| {
        Ok(match x {
            Scalar::Null => Scalar::Null,
            x => Scalar::Text(transform(&x.to_string())),
        })
    })
}
