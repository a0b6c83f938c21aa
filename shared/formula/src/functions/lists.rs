//! Functions that reshape lists: SELECT (filter), GROUP (distinct), SORT, and IF's
//! element-wise form.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::broadcast::zip_with;
use crate::budget::Meter;
use crate::coerce::{parse_number, truth};
use crate::error::EvalError;
use crate::value::{Scalar, Value};

/// IF with a list of conditions: element by element.
pub(super) fn choose(
    condition: &Value,
    then: &Value,
    otherwise: &Value,
    meter: &Meter,
) -> Result<Value, EvalError> {
    zip_with(meter, [condition, then, otherwise], "IF", |[c, a, b]| {
        Ok(if truth(c, "IF")? {
            a.clone()
        } else {
            b.clone()
        })
    })
}

/// Copies `value` out, counting its bytes.
fn copied(value: &Scalar, meter: &Meter, context: &str) -> Result<Scalar, EvalError> {
    meter.bytes(value.size(), context)?;
    Ok(value.clone())
}

/// The values whose condition is true; a single condition keeps all or none.
pub(super) fn select(values: &Value, condition: &Value, meter: &Meter) -> Result<Value, EvalError> {
    if let Some(single) = condition.single() {
        return if truth(single, "SELECT")? {
            values.iter().map(|v| copied(v, meter, "SELECT")).collect()
        } else {
            Ok(Value::default())
        };
    }
    if condition.len() != values.len() {
        return Err(EvalError::new(format!(
            "SELECT: {} values but {} conditions (give one condition per value, or one for all)",
            values.len(),
            condition.len()
        )));
    }
    let mut kept = Vec::new();
    for (value, keep) in values.iter().zip(condition) {
        if truth(keep, "SELECT")? {
            kept.push(copied(value, meter, "SELECT")?);
        }
    }
    Ok(Value(kept))
}

pub(super) fn group(values: &Value, meter: &Meter) -> Result<Value, EvalError> {
    Ok(Value(distinct(values, meter, "GROUP")?.0))
}

/// Identity for grouping: the same kind and the same value (so `1` and `"1"` differ).
#[derive(PartialEq, Eq, Hash)]
enum GroupKey {
    Null,
    Bool(bool),
    Number(u64),
    Text(String),
    Date(i64, u32),
    Object(String),
}

impl GroupKey {
    fn of(value: &Scalar) -> GroupKey {
        match value {
            Scalar::Null => GroupKey::Null,
            Scalar::Bool(b) => GroupKey::Bool(*b),
            // +0 and -0 are the same group.
            Scalar::Number(n) => GroupKey::Number((n + 0.0).to_bits()),
            Scalar::Text(text) => GroupKey::Text(text.clone()),
            Scalar::Date(date) => GroupKey::Date(date.timestamp(), date.timestamp_subsec_nanos()),
            Scalar::Object(object) => {
                GroupKey::Object(serde_json::Value::Object(object.clone()).to_string())
            }
        }
    }
}

/// The distinct values in first-seen order, and for each input value its group's position.
pub(super) fn distinct(
    values: &Value,
    meter: &Meter,
    context: &str,
) -> Result<(Vec<Scalar>, Vec<usize>), EvalError> {
    let mut positions: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups = Vec::new();
    let mut group_of = Vec::with_capacity(values.len());
    for value in values {
        let group = match positions.entry(GroupKey::of(value)) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                groups.push(copied(value, meter, context)?);
                *entry.insert(groups.len() - 1)
            }
        };
        group_of.push(group);
    }
    Ok((groups, group_of))
}

/// Reads SORT's order argument.
pub(crate) fn parse_order(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "asc" | "ascending" => Ok(false),
        "desc" | "descending" => Ok(true),
        _ => Err(format!("order must be \"asc\" or \"desc\", got {text:?}")),
    }
}

/// Sorts ascending (or descending), nulls last either way. When every value is a number or
/// text that reads as one, the order is numeric (CSV columns sort as numbers); otherwise
/// booleans, then numbers, dates, texts and objects, each in their natural order.
pub(super) fn sort(
    values: &Value,
    order: Option<&Value>,
    meter: &Meter,
) -> Result<Value, EvalError> {
    let descending = match order.map(|order| order.single()) {
        None => false,
        Some(Some(Scalar::Text(text))) => {
            parse_order(text).map_err(|message| EvalError::new(format!("SORT: {message}")))?
        }
        Some(_) => {
            return Err(EvalError::new(
                "SORT: order must be a single text, \"asc\" or \"desc\"",
            ));
        }
    };
    // Comparisons: about n·log₂n.
    let n = values.len();
    meter.steps(n.saturating_mul(usize::BITS as usize - n.leading_zeros() as usize))?;
    let mut present = Vec::with_capacity(n);
    let mut nulls = Vec::new();
    for value in values {
        let value = copied(value, meter, "SORT")?;
        if value == Scalar::Null {
            nulls.push(value);
        } else {
            present.push(value);
        }
    }
    let numeric: Option<Vec<f64>> = present.iter().map(as_number).collect();
    let direct = |ordering: Ordering| {
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    match numeric {
        Some(keys) => {
            let mut keyed: Vec<(f64, Scalar)> = keys.into_iter().zip(present).collect();
            keyed.sort_by(|a, b| direct(a.0.total_cmp(&b.0)));
            present = keyed.into_iter().map(|(_, value)| value).collect();
        }
        None => {
            // An object compares by its JSON text, written once rather than per comparison.
            let mut keyed: Vec<(Option<String>, Scalar)> = present
                .into_iter()
                .map(|value| (object_text(&value), value))
                .collect();
            keyed.sort_by(|a, b| direct(natural(a, b)));
            present = keyed.into_iter().map(|(_, value)| value).collect();
        }
    }
    present.extend(nulls);
    Ok(Value(present))
}

fn object_text(value: &Scalar) -> Option<String> {
    match value {
        Scalar::Object(object) => Some(serde_json::Value::Object(object.clone()).to_string()),
        _ => None,
    }
}

fn as_number(value: &Scalar) -> Option<f64> {
    match value {
        Scalar::Number(n) => Some(*n),
        Scalar::Text(text) => parse_number(text),
        _ => None,
    }
}

fn natural(
    (a_text, a): &(Option<String>, Scalar),
    (b_text, b): &(Option<String>, Scalar),
) -> Ordering {
    fn rank(value: &Scalar) -> u8 {
        match value {
            Scalar::Null => 0,
            Scalar::Bool(_) => 1,
            Scalar::Number(_) => 2,
            Scalar::Date(_) => 3,
            Scalar::Text(_) => 4,
            Scalar::Object(_) => 5,
        }
    }
    match (a, b) {
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        (Scalar::Number(x), Scalar::Number(y)) => x.total_cmp(y),
        (Scalar::Date(x), Scalar::Date(y)) => x.cmp(y),
        (Scalar::Text(x), Scalar::Text(y)) => x.cmp(y),
        (Scalar::Object(_), Scalar::Object(_)) => a_text.cmp(b_text),
        _ => rank(a).cmp(&rank(b)),
    }
}
