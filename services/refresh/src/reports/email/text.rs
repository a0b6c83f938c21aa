//! Values and times as a report shows them: ages, numbers, lists, and HTML escaping.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use prost_types::value::Kind;

use super::{Freshness, MAX_VALUES};

pub(super) fn freshness_text(datum: &Freshness) -> String {
    let mut text = match (&datum.fetched, &datum.age) {
        (Some(fetched), Some(age)) => format!("{}, fetched {fetched} ({age} old)", datum.source),
        (Some(fetched), None) => format!("{}, fetched {fetched}", datum.source),
        _ => format!("{}, no data fetched yet", datum.source),
    };
    if let Some(reason) = &datum.stale {
        let _ = write!(text, " - NOT REFRESHED for this report: {reason}");
    }
    text
}

pub(super) fn time_of(timestamp: prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(timestamp.seconds, timestamp.nanos.max(0) as u32)
}

/// An age such as `42 s`, `5 min`, `2 h 5 min`, `3 d 4 h`.
pub fn age_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => match (s / 3600, (s % 3600) / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        s => match (s / 86_400, (s % 86_400) / 3600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

/// A component's values, comma-separated; at most [`MAX_VALUES`].
pub fn values_text(values: Option<&prost_types::ListValue>) -> String {
    let values = values
        .map(|list| list.values.as_slice())
        .unwrap_or_default();
    if values.is_empty() {
        return "(no values)".into();
    }
    let mut shown: Vec<String> = values.iter().take(MAX_VALUES).map(value_text).collect();
    if values.len() > MAX_VALUES {
        shown.push(format!("... ({} more)", values.len() - MAX_VALUES));
    }
    shown.join(", ")
}

pub(super) fn value_text(value: &prost_types::Value) -> String {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => "-".into(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(Kind::NumberValue(n)) => number_text(*n),
        Some(Kind::StringValue(s)) => s.clone(),
        Some(Kind::ListValue(list)) => format!(
            "[{}]",
            list.values
                .iter()
                .map(value_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Kind::StructValue(fields)) => {
            let mut pairs: Vec<_> = fields.fields.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "{{{}}}",
                pairs
                    .into_iter()
                    .map(|(key, value)| format!("{key}: {}", value_text(value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

/// Whole numbers without a fraction (`49`, not `49.0`); others as Rust prints them
/// (shortest round trip: `18.15`).
pub(super) fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
