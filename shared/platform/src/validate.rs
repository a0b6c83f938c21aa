//! Checks of what a caller controls, shared by every service (docs/limits.md lists the
//! limits). Each check adds a field violation to a [`Violations`] rather than failing at
//! once, so one answer names every bad field.
//!
//! PostgreSQL cannot store a NUL byte in `text`, and a control character in a name or an
//! id is never what the caller meant: [`text`] refuses both before anything reaches the
//! database, so such input is an `INVALID_ARGUMENT` naming the field, not an `INTERNAL`.

use std::time::Duration;

use crate::error::Violations;

/// The deepest JSON a caller or a third party may hand us (layouts, fetched data). Protobuf
/// decoders stop at 100 levels of messages and a JSON level costs up to three of them in
/// `google.protobuf.Value`, so 32 keeps everything we accept decodable between services.
pub const MAX_JSON_DEPTH: usize = 32;

/// Adds a violation unless `value` is at most `max_chars` characters with no NUL and no
/// control character other than tab, line feed and carriage return.
pub fn text(violations: &mut Violations, field: &str, value: &str, max_chars: usize) {
    if let Some(problem) = text_problem(value, max_chars) {
        violations.add(field, problem);
    }
}

/// As [`text`], for a value that must also be on one line (names, ids, keys).
pub fn single_line(violations: &mut Violations, field: &str, value: &str, max_chars: usize) {
    if let Some(problem) = text_problem(value, max_chars) {
        violations.add(field, problem);
    } else if value.contains(['\n', '\r']) {
        violations.add(field, "must be on one line");
    }
}

/// What is wrong with `value` as stored text, if anything.
pub fn text_problem(value: &str, max_chars: usize) -> Option<String> {
    if value.contains('\0') {
        return Some("must not contain a NUL byte".to_owned());
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Some("must not contain control characters".to_owned());
    }
    let count = value.chars().count();
    (count > max_chars).then(|| format!("must be at most {max_chars} characters, not {count}"))
}

/// Adds a violation when a list holds more than `max` items.
pub fn list_len(violations: &mut Violations, field: &str, len: usize, max: usize) {
    if len > max {
        violations.add(field, format!("must hold at most {max} items, not {len}"));
    }
}

/// A protobuf duration the caller sent, checked to lie in `min..=max`; `None` (with a
/// violation added) when it does not, or when its parts are out of protobuf's own range.
pub fn duration(
    violations: &mut Violations,
    field: &str,
    value: &prost_types::Duration,
    min: Duration,
    max: Duration,
) -> Option<Duration> {
    let in_range = value.seconds >= 0
        && (0..1_000_000_000).contains(&value.nanos)
        && (value.seconds as u64) <= max.as_secs();
    let parsed = in_range.then(|| Duration::new(value.seconds as u64, value.nanos as u32));
    match parsed {
        Some(duration) if duration >= min && duration <= max => Some(duration),
        _ => {
            violations.add(
                field,
                format!(
                    "must be between {} and {} seconds",
                    min.as_secs_f64(),
                    max.as_secs_f64()
                ),
            );
            None
        }
    }
}

/// How deeply `value` nests (a scalar is 1, `[1]` is 2), counted without recursion so a
/// hostile document cannot overflow the stack.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            serde_json::Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            serde_json::Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(check: impl FnOnce(&mut Violations)) -> bool {
        let mut violations = Violations::new();
        check(&mut violations);
        !violations.is_empty()
    }

    #[test]
    fn text_refuses_nul_control_characters_and_length() {
        assert!(!problems(|v| text(v, "f", "a\tb\nc", 10)));
        assert!(problems(|v| text(v, "f", "a\0b", 10)));
        assert!(problems(|v| text(v, "f", "a\u{7}b", 10)));
        assert!(problems(|v| text(v, "f", "ééééé", 4)));
        assert!(!problems(|v| text(v, "f", "ééééé", 5)));
        assert!(problems(|v| single_line(v, "f", "a\nb", 10)));
    }

    #[test]
    fn durations_out_of_range_are_refused_without_overflow() {
        let check = |seconds, nanos| {
            let mut violations = Violations::new();
            let value = prost_types::Duration { seconds, nanos };
            duration(
                &mut violations,
                "lead_time",
                &value,
                Duration::ZERO,
                Duration::from_secs(86_400),
            )
        };
        assert_eq!(check(60, 0), Some(Duration::from_secs(60)));
        assert_eq!(check(i64::MIN, 0), None);
        assert_eq!(check(i64::MAX, 0), None);
        assert_eq!(check(0, -1), None);
        assert_eq!(check(0, i32::MAX), None);
        assert_eq!(check(86_400, 1), None);
    }

    #[test]
    fn json_depth_counts_levels() {
        assert_eq!(json_depth(&serde_json::json!(1)), 1);
        assert_eq!(json_depth(&serde_json::json!({"a": [1, {"b": []}]})), 4);
        let mut deep = serde_json::json!(0);
        for _ in 0..10_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        assert_eq!(json_depth(&deep), 10_001);
        // Dropping 10,000 levels recursively would overflow a test thread's stack.
        std::mem::forget(deep);
    }
}
