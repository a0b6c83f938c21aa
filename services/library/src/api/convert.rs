//! Conversions between wire and domain forms shared by every resource: timestamps,
//! durations and `Struct` layouts.

use chrono::{DateTime, Utc};
use prost_types::value::Kind;
use serde_json::{Map, Number, Value};
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::validate::MAX_JSON_DEPTH;

pub fn timestamp(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    })
}

/// A whole number of seconds from an optional `Duration`; unset is zero.
pub fn seconds(field: &str, duration: Option<&prost_types::Duration>) -> ApiResult<i64> {
    match duration {
        None => Ok(0),
        Some(d) if d.nanos != 0 => Err(ApiError::invalid(field, "must be whole seconds")),
        Some(d) if d.seconds < 0 => Err(ApiError::invalid(field, "must not be negative")),
        Some(d) => Ok(d.seconds),
    }
}

/// Zero seconds is unset.
pub fn duration(seconds: i64) -> Option<prost_types::Duration> {
    (seconds > 0).then_some(prost_types::Duration { seconds, nanos: 0 })
}

/// A `Struct` as JSON; NaN and infinities have no JSON form and are refused, and so is one
/// nested deeper than [`MAX_JSON_DEPTH`] (measured first, without recursion, so converting
/// never recurses deeper).
pub fn struct_to_json(field: &str, value: &prost_types::Struct) -> ApiResult<Value> {
    let depth = struct_depth(value);
    if depth > MAX_JSON_DEPTH {
        return Err(ApiError::invalid(
            field,
            format!("nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed"),
        ));
    }
    fields_to_json(value).map_err(|problem| ApiError::invalid(field, problem))
}

/// The depth of the JSON a `Struct` stands for, as `json_depth` counts it.
fn struct_depth(value: &prost_types::Struct) -> usize {
    let mut deepest = 1;
    let mut pending: Vec<(&prost_types::Value, usize)> =
        value.fields.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match &value.kind {
            Some(Kind::ListValue(list)) => {
                pending.extend(list.values.iter().map(|v| (v, depth + 1)));
            }
            Some(Kind::StructValue(inner)) => {
                pending.extend(inner.fields.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

fn fields_to_json(value: &prost_types::Struct) -> Result<Value, String> {
    let mut map = Map::new();
    for (key, item) in &value.fields {
        map.insert(key.clone(), value_to_json(item)?);
    }
    Ok(Value::Object(map))
}

pub(crate) fn value_to_json(value: &prost_types::Value) -> Result<Value, String> {
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            Value::Number(Number::from_f64(*n).ok_or_else(|| format!("{n} is not a JSON number"))?)
        }
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(
            list.values
                .iter()
                .map(value_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(inner)) => fields_to_json(inner)?,
    })
}

/// JSON as a `Struct` (a non-object becomes an empty one: layouts are always objects).
pub fn json_to_struct(value: &Value) -> prost_types::Struct {
    match value {
        Value::Object(map) => prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        },
        _ => prost_types::Struct::default(),
    }
}

pub(crate) fn json_to_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(json_to_struct(value)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layouts_round_trip_and_nan_is_refused() {
        let layout = json!({"tabs": [{"name": "Main", "columns": 3.0, "on": true, "x": null}]});
        let wire = json_to_struct(&layout);
        assert_eq!(struct_to_json("layout", &wire).unwrap(), layout);
        let nan = prost_types::Struct {
            fields: [(
                "x".to_owned(),
                prost_types::Value {
                    kind: Some(Kind::NumberValue(f64::NAN)),
                },
            )]
            .into(),
        };
        assert!(struct_to_json("layout", &nan).is_err());
    }

    #[test]
    fn struct_depth_is_json_depth() {
        let mut value = json!(1);
        for depth in 0..40 {
            let layout = json!({ "x": value });
            let wire = json_to_struct(&layout);
            assert_eq!(
                struct_depth(&wire),
                trellis_platform::validate::json_depth(&layout)
            );
            let converted = struct_to_json("layout", &wire);
            assert_eq!(converted.is_ok(), depth + 2 <= MAX_JSON_DEPTH, "{depth}");
            value = if depth % 2 == 0 {
                json!([value])
            } else {
                json!({ "y": value })
            };
        }
    }
}
