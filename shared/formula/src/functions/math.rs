//! Element-wise number functions: ROUND, ABS, NUMBER.

use crate::broadcast::zip_with;
use crate::budget::Meter;
use crate::coerce::number;
use crate::error::EvalError;
use crate::ops::finite;
use crate::value::{Scalar, Value};

/// Rounds half away from zero to `digits` decimal places (negative digits round to tens,
/// hundreds, …).
pub(super) fn round(x: &Value, digits: Option<&Value>, meter: &Meter) -> Result<Value, EvalError> {
    let zero = Value::from(Scalar::Number(0.0));
    zip_with(
        meter,
        [x, digits.unwrap_or(&zero)],
        "ROUND",
        |[x, digits]| {
            let (Some(x), Some(digits)) = (number(x, "ROUND")?, number(digits, "ROUND")?) else {
                return Ok(Scalar::Null);
            };
            if digits.fract() != 0.0 {
                return Err(EvalError::new(format!(
                    "ROUND: digits must be a whole number, got {digits}"
                )));
            }
            // Beyond ±308 the scale factor leaves f64 range; the answer is x itself or zero.
            let digits = digits.clamp(-400.0, 400.0) as i32;
            if digits > 308 {
                return Ok(Scalar::Number(x));
            }
            if digits < -308 {
                return Ok(Scalar::Number(0.0));
            }
            let scale = 10f64.powi(digits.abs());
            let rounded = if digits >= 0 {
                let scaled = x * scale;
                // Too large to have a fractional part at this scale.
                if !scaled.is_finite() {
                    return Ok(Scalar::Number(x));
                }
                scaled.round() / scale
            } else {
                (x / scale).round() * scale
            };
            finite(rounded, "ROUND")
        },
    )
}

pub(super) fn abs(x: &Value, meter: &Meter) -> Result<Value, EvalError> {
    zip_with(meter, [x], "ABS", |[x]| {
        Ok(number(x, "ABS")?.map_or(Scalar::Null, |n| Scalar::Number(n.abs())))
    })
}

/// Reads text as numbers explicitly (e.g. to output CSV cells as JSON numbers).
pub(super) fn number_of(x: &Value, meter: &Meter) -> Result<Value, EvalError> {
    zip_with(meter, [x], "NUMBER", |[x]| {
        Ok(number(x, "NUMBER")?.map_or(Scalar::Null, Scalar::Number))
    })
}
