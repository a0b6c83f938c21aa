//! Element-wise application: lists of the same length pair up, a single value pairs with
//! every element of a longer list, and any other mix of lengths is an error.

use crate::budget::Meter;
use crate::error::EvalError;
use crate::value::{Scalar, Value};

/// The length of the result of combining `values` element-wise.
pub(crate) fn common_len(values: &[&Value], context: &str) -> Result<usize, EvalError> {
    let mut common: Option<usize> = None;
    for value in values.iter().filter(|value| value.len() != 1) {
        match common {
            Some(len) if len != value.len() => {
                return Err(EvalError::new(format!(
                    "{context}: cannot combine a list of {len} values with a list of {} \
                     (lists must have the same length, or one value)",
                    value.len()
                )));
            }
            _ => common = Some(value.len()),
        }
    }
    Ok(common.unwrap_or(1))
}

/// Applies `apply` to the `i`-th elements of `values`, for each `i` of the common length.
/// Each result is a step and its bytes are counted, so broadcasting one value over a long
/// list stops at the budget rather than after it.
pub(crate) fn zip_with<const N: usize>(
    meter: &Meter,
    values: [&Value; N],
    context: &str,
    mut apply: impl FnMut([&Scalar; N]) -> Result<Scalar, EvalError>,
) -> Result<Value, EvalError> {
    let len = common_len(&values, context)?;
    let mut results = Vec::with_capacity(len);
    for i in 0..len {
        meter.steps(1)?;
        let result = apply(values.map(|value| element(value, i)))?;
        meter.bytes(result.size(), context)?;
        results.push(result);
    }
    Ok(Value(results))
}

/// The `i`-th element, or the only element of a single value.
pub(crate) fn element(value: &Value, i: usize) -> &Scalar {
    match value.0.as_slice() {
        [only] => only,
        all => &all[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn numbers(ns: &[f64]) -> Value {
        ns.iter().map(|n| Scalar::Number(*n)).collect()
    }

    fn add(a: &Value, b: &Value) -> Result<Value, EvalError> {
        let budget = crate::Budget::default();
        zip_with(&Meter::new(&budget), [a, b], "+", |[x, y]| match (x, y) {
            (Scalar::Number(x), Scalar::Number(y)) => Ok(Scalar::Number(x + y)),
            _ => Ok(Scalar::Null),
        })
    }

    #[test]
    fn pairs_and_broadcasts() {
        let list = numbers(&[1.0, 2.0, 3.0]);
        assert_eq!(
            add(&list, &numbers(&[10.0])).unwrap(),
            numbers(&[11.0, 12.0, 13.0])
        );
        assert_eq!(
            add(&numbers(&[10.0]), &list).unwrap(),
            numbers(&[11.0, 12.0, 13.0])
        );
        assert_eq!(add(&list, &list).unwrap(), numbers(&[2.0, 4.0, 6.0]));
        assert_eq!(add(&numbers(&[]), &numbers(&[1.0])).unwrap(), numbers(&[]));
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let error = add(&numbers(&[1.0, 2.0]), &numbers(&[1.0, 2.0, 3.0])).unwrap_err();
        assert_eq!(
            error.message(),
            "+: cannot combine a list of 2 values with a list of 3 \
             (lists must have the same length, or one value)"
        );
        assert!(add(&numbers(&[]), &numbers(&[1.0, 2.0])).is_err());
    }

    #[test]
    fn broadcasting_stops_at_the_byte_budget() {
        let budget = crate::Budget {
            max_bytes: 10_000,
            ..crate::Budget::default()
        };
        let meter = Meter::new(&budget);
        let long = Value::from(Scalar::Text("x".repeat(100)));
        let many = numbers(&[0.0; 1000]);
        let error =
            zip_with(&meter, [&many, &long], "IF", |[_, text]| Ok(text.clone())).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Bytes);
        assert!(meter.usage().bytes <= 10_000);
    }
}
