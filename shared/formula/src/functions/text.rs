//! Text functions: CONCAT, JOIN, LEN, UPPER, LOWER, TRIM.
//!
//! Text is built once, into one buffer per result, and checked against the byte budget
//! before each part is copied: building never copies what it built before, so its cost is
//! linear in the length of the result, and a result that would not fit is never built.

use std::fmt::Write;

use crate::broadcast::{common_len, element, zip_with};
use crate::budget::{Meter, SCALAR_BYTES};
use crate::error::EvalError;
use crate::value::{Scalar, Value};

/// Appends the text form of `part` (see `Display for Scalar`) without copying text twice.
fn push_text(out: &mut String, part: &Scalar) {
    match part {
        Scalar::Null => {}
        Scalar::Text(text) => out.push_str(text),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// The text forms of `parts` end to end, as `&` and `CONCAT` build one element.
pub(crate) fn joined(parts: &[&Scalar], meter: &Meter, context: &str) -> Result<Scalar, EvalError> {
    let mut text = String::new();
    for part in parts {
        if let Scalar::Text(part) = part {
            meter.fits(SCALAR_BYTES + text.len() + part.len(), context)?;
        }
        push_text(&mut text, part);
        meter.fits(SCALAR_BYTES + text.len(), context)?;
    }
    Ok(Scalar::Text(text))
}

/// Element-wise concatenation, like `a & b & …`.
pub(super) fn concat(values: &[Value], meter: &Meter) -> Result<Value, EvalError> {
    const NAME: &str = "CONCAT";
    let all: Vec<&Value> = values.iter().collect();
    let len = common_len(&all, NAME)?;
    let mut results = Vec::with_capacity(len);
    for i in 0..len {
        meter.steps(values.len())?;
        let parts: Vec<&Scalar> = values.iter().map(|value| element(value, i)).collect();
        let result = joined(&parts, meter, NAME)?;
        meter.bytes(result.size(), NAME)?;
        results.push(result);
    }
    Ok(Value(results))
}

/// All values as one text, nulls skipped, separated by `separator` (default `", "`).
pub(super) fn join(
    values: &Value,
    separator: Option<&Value>,
    meter: &Meter,
) -> Result<Value, EvalError> {
    const NAME: &str = "JOIN";
    let separator = match separator.map(Value::single) {
        None => ", ".to_string(),
        Some(Some(separator)) => separator.to_string(),
        Some(None) => return Err(EvalError::new("JOIN: the separator must be a single value")),
    };
    let mut text = String::new();
    for (i, value) in values
        .iter()
        .filter(|value| **value != Scalar::Null)
        .enumerate()
    {
        if i > 0 {
            meter.fits(SCALAR_BYTES + text.len() + separator.len(), NAME)?;
            text.push_str(&separator);
        }
        if let Scalar::Text(part) = value {
            meter.fits(SCALAR_BYTES + text.len() + part.len(), NAME)?;
        }
        push_text(&mut text, value);
        meter.fits(SCALAR_BYTES + text.len(), NAME)?;
    }
    let result = Scalar::Text(text);
    meter.bytes(result.size(), NAME)?;
    Ok(result.into())
}

/// Length in characters of each value's text form; null stays null.
pub(super) fn len(x: &Value, meter: &Meter) -> Result<Value, EvalError> {
    zip_with(meter, [x], "LEN", |[x]| {
        Ok(match x {
            Scalar::Null => Scalar::Null,
            Scalar::Text(text) => Scalar::Number(text.chars().count() as f64),
            x => Scalar::Number(x.to_string().chars().count() as f64),
        })
    })
}

/// Applies a text transformation to each value's text form; null stays null.
pub(super) fn map_text(
    x: &Value,
    name: &str,
    meter: &Meter,
    transform: impl Fn(&str) -> String,
) -> Result<Value, EvalError> {
    zip_with(meter, [x], name, |[x]| {
        Ok(match x {
            Scalar::Null => Scalar::Null,
            Scalar::Text(text) => Scalar::Text(transform(text)),
            x => Scalar::Text(transform(&x.to_string())),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Budget;
    use crate::error::ErrorKind;

    fn text(s: &str) -> Value {
        Scalar::Text(s.into()).into()
    }

    #[test]
    fn concat_pairs_lists_and_charges_what_it_builds() {
        let budget = Budget::default();
        let meter = Meter::new(&budget);
        let names = Value(vec![Scalar::Text("a".into()), Scalar::Text("bc".into())]);
        let result = concat(&[names, text("-"), Scalar::Number(1.0).into()], &meter).unwrap();
        assert_eq!(
            result,
            Value(vec![
                Scalar::Text("a-1".into()),
                Scalar::Text("bc-1".into())
            ])
        );
        assert_eq!(meter.usage().bytes as usize, 2 * SCALAR_BYTES + 3 + 4);
    }

    #[test]
    fn a_join_that_would_not_fit_is_not_built() {
        let budget = Budget {
            max_bytes: 1000,
            ..Budget::default()
        };
        let meter = Meter::new(&budget);
        let many = Value(vec![Scalar::Number(1.0); 10]);
        let error = join(&many, Some(&text(&"x".repeat(200))), &meter).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Bytes);
        assert_eq!(meter.usage().bytes, 0);
    }
}
