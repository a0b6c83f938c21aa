//! Functions that reshape lists: SELECT (filter), GROUP (distinct), SORT, and IF's
//! element-wise form.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::broadcast::zip_with;
use crate::coerce::{parse_number, truth};
use crate::error::EvalError;
use crate::value::{Scalar, Value};

/// IF with a list of conditions: element by element.
pub(super) fn choose(
    condition: &Value,
    then: &Value,
    otherwise: &Value,
) -> Result<Value, EvalError> {
    zip_with([condition, then, otherwise], "IF", |[c, a, b]| {
        Ok(if truth(c, "IF")? {
            a.clone()
        } else {
            b.clone()
        })
    })
}

/// The values whose condition is true; a single condition keeps all or none.
pub(super) fn select(values: &Value, condition: &Value) -> Result<Value, EvalError> {
    if let Some(single) = condition.single() {
        return Ok(if truth(single, "SELECT")? {
            values.clone()
        } else {
            Value::default()
        });
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
            kept.push(value.clone());
        }
    }
    Ok(Value(kept))
}

pub(super) fn group(values: &Value) -> Value {
    Value(distinct(values).0)
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
pub(super) fn distinct(values: &Value) -> (Vec<Scalar>, Vec<usize>) {
    let mut positions: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups = Vec::new();
    let group_of = values
        .iter()
        .map(|value| {
            *positions.entry(GroupKey::of(value)).or_insert_with(|| {
                groups.push(value.clone());
                groups.len() - 1
            })
        })
        .collect();
    (groups, group_of)
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
pub(super) fn sort(values: &Value, order: Option<&Value>) -> Result<Value, EvalError> {
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
    let (mut present, nulls): (Vec<Scalar>, Vec<Scalar>) = values
        .iter()
        .cloned()
        .partition(|value| *value != Scalar::Null);
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
        None => present.sort_by(|a, b| direct(natural(a, b))),
    }
    present.extend(nulls);
    Ok(Value(present))
}

fn as_number(value: &Scalar) -> Option<f64> {
    match value {
        Scalar::Number(n) => Some(*n),
        Scalar::Text(text) => parse_number(text),
        _ => None,
    }
}

fn natural(a: &Scalar, b: &Scalar) -> Ordering {
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
        (Scalar::Object(x), Scalar::Object(y)) => serde_json::Value::Object(x.clone())
            .to_string()
            .cmp(&serde_json::Value::Object(y.clone()).to_string()),
        _ => rank(a).cmp(&rank(b)),
    }
}
