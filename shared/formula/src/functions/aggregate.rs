//! Functions that reduce lists: SUM, AVERAGE, COUNT, MIN, MAX, and the per-group SUMBY and
//! COUNTBY. Nulls (missing values, empty cells) are skipped.

use std::cmp::Ordering;

use crate::budget::Meter;
use crate::coerce::number;
use crate::error::EvalError;
use crate::ops::finite;
use crate::value::{Scalar, Value};

use super::lists::distinct;

fn numbers<'a>(
    values: &'a [Value],
    context: &'a str,
) -> impl Iterator<Item = Result<f64, EvalError>> + 'a {
    values
        .iter()
        .flatten()
        .filter_map(move |value| number(value, context).transpose())
}

pub(super) fn sum(values: &[Value]) -> Result<Value, EvalError> {
    let total = numbers(values, "SUM").sum::<Result<f64, _>>()?;
    Ok(finite(total, "SUM")?.into())
}

pub(super) fn average(values: &[Value]) -> Result<Value, EvalError> {
    let (mut total, mut count) = (0.0, 0usize);
    for n in numbers(values, "AVERAGE") {
        total += n?;
        count += 1;
    }
    if count == 0 {
        return Ok(Scalar::Null.into());
    }
    Ok(finite(total / count as f64, "AVERAGE")?.into())
}

pub(super) fn count(values: &[Value]) -> Value {
    let count = values
        .iter()
        .flatten()
        .filter(|v| **v != Scalar::Null)
        .count();
    Scalar::Number(count as f64).into()
}

/// MIN (`wanted` = Less) or MAX (Greater) of numbers, or of dates when every value is a date.
pub(super) fn extreme(values: &[Value], name: &str, wanted: Ordering) -> Result<Value, EvalError> {
    let present: Vec<&Scalar> = values
        .iter()
        .flatten()
        .filter(|v| **v != Scalar::Null)
        .collect();
    let dates: Option<Vec<_>> = present
        .iter()
        .map(|value| match value {
            Scalar::Date(date) => Some(*date),
            _ => None,
        })
        .collect();
    if let Some(dates) = dates.filter(|dates| !dates.is_empty()) {
        let best = dates
            .into_iter()
            .reduce(|a, b| if b.cmp(&a) == wanted { b } else { a });
        return Ok(best.map_or(Scalar::Null, Scalar::Date).into());
    }
    let mut best: Option<f64> = None;
    for value in present {
        let Some(n) = number(value, name)? else {
            continue;
        };
        if best.is_none_or(|b| n.total_cmp(&b) == wanted) {
            best = Some(n);
        }
    }
    Ok(best.map_or(Scalar::Null, Scalar::Number).into())
}

/// The sum of `values` for each distinct key, in `GROUP(keys)` order.
pub(super) fn sum_by(values: &Value, keys: &Value, meter: &Meter) -> Result<Value, EvalError> {
    if values.len() != keys.len() {
        return Err(EvalError::new(format!(
            "SUMBY: {} values but {} keys (they must pair up)",
            values.len(),
            keys.len()
        )));
    }
    let (groups, group_of) = distinct(keys, meter, "SUMBY")?;
    let mut totals = vec![0.0; groups.len()];
    for (value, group) in values.iter().zip(group_of) {
        if let Some(n) = number(value, "SUMBY")? {
            totals[group] += n;
        }
    }
    totals
        .into_iter()
        .map(|total| finite(total, "SUMBY"))
        .collect()
}

/// How many times each distinct key occurs, in `GROUP(keys)` order.
pub(super) fn count_by(keys: &Value, meter: &Meter) -> Result<Value, EvalError> {
    let (groups, group_of) = distinct(keys, meter, "COUNTBY")?;
    let mut counts = vec![0usize; groups.len()];
    for group in group_of {
        counts[group] += 1;
    }
    Ok(counts
        .into_iter()
        .map(|n| Scalar::Number(n as f64))
        .collect())
}
