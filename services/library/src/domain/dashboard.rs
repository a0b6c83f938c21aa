//! Dashboard definitions: an ordered list of Klips and a free-form layout.

use std::collections::HashSet;

use serde_json::Value;
use trellis_platform::error::Violations;
use trellis_platform::validate::{MAX_JSON_DEPTH, json_depth, text_problem};
use uuid::Uuid;

use super::names::check_display_name;

pub const MAX_KLIPS: usize = 100;
pub const MAX_LAYOUT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct DashboardDefinition {
    pub name: String,
    /// In display order; each once.
    pub klip_ids: Vec<Uuid>,
    /// A JSON object, stored and returned as is.
    pub layout: Value,
}

impl DashboardDefinition {
    pub fn check(&self, violations: &mut Violations, prefix: &str) {
        check_display_name(violations, &format!("{prefix}.name"), &self.name);
        if self.klip_ids.len() > MAX_KLIPS {
            violations.add(
                format!("{prefix}.klip_ids"),
                format!("at most {MAX_KLIPS} Klips are allowed"),
            );
        }
        let mut seen = HashSet::new();
        for (i, id) in self.klip_ids.iter().enumerate() {
            if !seen.insert(id) {
                violations.add(
                    format!("{prefix}.klip_ids[{i}]"),
                    "a Klip appears on a dashboard once",
                );
            }
        }
        check_layout(violations, &format!("{prefix}.layout"), &self.layout);
    }
}

/// A layout nests at most [`MAX_JSON_DEPTH`] levels (as `json_depth` counts them, like
/// every JSON the services exchange), is at most [`MAX_LAYOUT_BYTES`] as JSON text, and its
/// keys and texts hold no NUL byte (PostgreSQL's JSON cannot) and no control character.
pub fn check_layout(violations: &mut Violations, field: &str, layout: &Value) {
    // Depth first: the other checks walk the layout, and serializing it recurses.
    let depth = json_depth(layout);
    if depth > MAX_JSON_DEPTH {
        violations.add(
            field,
            format!("nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed"),
        );
        return;
    }
    let size = serde_json::to_vec(layout).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_LAYOUT_BYTES {
        violations.add(
            field,
            format!("is {size} bytes encoded; at most {MAX_LAYOUT_BYTES} are allowed"),
        );
    } else if let Some(problem) = texts(layout).find_map(|text| text_problem(text, usize::MAX)) {
        violations.add(field, format!("its keys and texts {problem}"));
    }
}

/// Every key and string in `value`, without recursion.
fn texts(value: &Value) -> impl Iterator<Item = &str> {
    let mut pending = vec![value];
    let mut keys: Vec<&str> = Vec::new();
    std::iter::from_fn(move || {
        loop {
            if let Some(key) = keys.pop() {
                return Some(key);
            }
            match pending.pop()? {
                Value::String(text) => return Some(text.as_str()),
                Value::Array(items) => pending.extend(items),
                Value::Object(fields) => {
                    keys.extend(fields.keys().map(String::as_str));
                    pending.extend(fields.values());
                }
                _ => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(definition: &DashboardDefinition) -> Vec<String> {
        let mut violations = Violations::new();
        definition.check(&mut violations, "dashboard");
        match violations.into_result() {
            Ok(()) => vec![],
            Err(trellis_platform::ApiError::InvalidArgument(list)) => {
                list.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn duplicates_big_and_deep_layouts_are_refused() {
        let id = Uuid::now_v7();
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        // `{"tabs": [[…[1]…]]}` with 30 arrays is 32 levels deep, the most allowed.
        let nested = |arrays| (0..arrays).fold(json!(1), |inner, _| json!([inner]));
        let cases = [
            (vec![id, id], json!({}), "dashboard.klip_ids[1]"),
            (vec![], json!({"x": "y".repeat(70_000)}), "dashboard.layout"),
            (vec![], json!({ "tabs": deep }), "dashboard.layout"),
            (vec![], json!({ "tabs": nested(31) }), "dashboard.layout"),
            (vec![], json!({"a": [{"b\u{0}": 1}]}), "dashboard.layout"),
            (vec![], json!({"a": ["bell\u{7}"]}), "dashboard.layout"),
        ];
        for (klip_ids, layout, field) in cases {
            let definition = DashboardDefinition {
                name: "Board".into(),
                klip_ids,
                layout,
            };
            assert_eq!(check(&definition), [field]);
        }
        for layout in [
            json!({"columns": 3, "note": "tab\tand\nline"}),
            json!({ "tabs": nested(30) }),
        ] {
            let fine = DashboardDefinition {
                name: "Board".into(),
                klip_ids: vec![id],
                layout,
            };
            assert!(check(&fine).is_empty());
        }
    }
}
