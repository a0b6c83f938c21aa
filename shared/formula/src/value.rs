//! What a formula evaluates to: a list of scalars. A single number is a list of one.

use std::fmt::{self, Display, Formatter};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use crate::budget::{SCALAR_BYTES, json_bytes};

/// One value in a formula's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A missing value: JSON `null`, an absent field, an empty CSV cell, `1 / 0`.
    Null,
    Bool(bool),
    /// Always finite.
    Number(f64),
    Text(String),
    /// An instant, in UTC.
    Date(DateTime<Utc>),
    /// A JSON object (or a CSV row), kept whole so a later step can read its fields.
    Object(Map<String, Json>),
}

impl Scalar {
    /// The JSON form: dates become RFC 3339 strings, whole numbers become JSON integers.
    pub fn to_json(&self) -> Json {
        match self {
            Scalar::Null => Json::Null,
            Scalar::Bool(b) => Json::Bool(*b),
            Scalar::Number(n) => number_to_json(*n),
            Scalar::Text(text) => Json::String(text.clone()),
            Scalar::Date(date) => Json::String(format_date(date)),
            Scalar::Object(object) => Json::Object(object.clone()),
        }
    }

    /// Its bytes, as the budget counts them (`crate::budget`).
    pub(crate) fn size(&self) -> usize {
        SCALAR_BYTES
            + match self {
                Scalar::Null | Scalar::Bool(_) | Scalar::Number(_) | Scalar::Date(_) => 0,
                Scalar::Text(text) => text.len(),
                Scalar::Object(object) => object
                    .iter()
                    .map(|(key, value)| key.len() + 4 + json_bytes(value))
                    .sum(),
            }
    }

    /// How a value is named in error messages: `text "abc"`, `number 5`, `null`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".to_string(),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::Number(n) => format!("number {}", format_number(*n)),
            Scalar::Text(text) => {
                const SHOWN: usize = 40;
                let shown: String = text.chars().take(SHOWN).collect();
                let ellipsis = if text.chars().nth(SHOWN).is_some() {
                    "…"
                } else {
                    ""
                };
                format!("text {:?}", shown + ellipsis)
            }
            Scalar::Date(date) => format!("date {}", format_date(date)),
            Scalar::Object(_) => "an object".to_string(),
        }
    }
}

/// The text form, as `&` and `CONCAT` use it: null is empty, numbers have no trailing `.0`,
/// dates are RFC 3339, objects are JSON.
impl Display for Scalar {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => Ok(()),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Number(n) => f.write_str(&format_number(*n)),
            Scalar::Text(text) => f.write_str(text),
            Scalar::Date(date) => f.write_str(&format_date(date)),
            Scalar::Object(object) => write!(f, "{}", Json::Object(object.clone())),
        }
    }
}

/// A formula's result: zero or more scalars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Value(pub Vec<Scalar>);

impl Value {
    /// Always a JSON array, even for a single value, so a renderer handles one shape.
    pub fn to_json(&self) -> Json {
        Json::Array(self.0.iter().map(Scalar::to_json).collect())
    }

    /// The only scalar, when there is exactly one.
    pub fn single(&self) -> Option<&Scalar> {
        match self.0.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Scalar> {
        self.0.iter()
    }
}

impl From<Scalar> for Value {
    fn from(scalar: Scalar) -> Self {
        Value(vec![scalar])
    }
}

impl From<Vec<Scalar>> for Value {
    fn from(scalars: Vec<Scalar>) -> Self {
        Value(scalars)
    }
}

impl FromIterator<Scalar> for Value {
    fn from_iter<I: IntoIterator<Item = Scalar>>(iter: I) -> Self {
        Value(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Value {
    type Item = &'a Scalar;
    type IntoIter = std::slice::Iter<'a, Scalar>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Shortest text that reads back as the same number: `3`, `0.1`, never `3.0` or `-0`.
pub(crate) fn format_number(n: f64) -> String {
    if n == 0.0 {
        "0".to_string()
    } else {
        n.to_string()
    }
}

pub(crate) fn format_date(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn number_to_json(n: f64) -> Json {
    // Below 2^53 every whole f64 is exactly an i64.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() < EXACT {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn converts_to_json() {
        let date = Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0).unwrap();
        let value = Value(vec![
            Scalar::Null,
            Scalar::Bool(true),
            Scalar::Number(3.0),
            Scalar::Number(-0.5),
            Scalar::Number(1e300),
            Scalar::Text("a".into()),
            Scalar::Date(date),
        ]);
        assert_eq!(
            value.to_json(),
            json!([null, true, 3, -0.5, 1e300, "a", "2024-03-05T00:00:00Z"])
        );
    }

    #[test]
    fn formats_numbers_and_describes_values() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(Scalar::Text("abc".into()).describe(), "text \"abc\"");
        assert_eq!(
            Scalar::Text("x".repeat(50)).describe(),
            format!("text \"{}…\"", "x".repeat(40))
        );
        assert_eq!(Scalar::Number(2.5).describe(), "number 2.5");
        assert_eq!(Scalar::Null.to_string(), "");
    }

    #[test]
    fn single_is_only_for_one_value() {
        assert_eq!(Value::from(Scalar::Null).single(), Some(&Scalar::Null));
        assert_eq!(Value::default().single(), None);
    }
}
