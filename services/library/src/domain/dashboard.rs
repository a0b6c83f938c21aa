//! Dashboard definitions: an ordered list of Klips and a free-form layout.

use std::collections::HashSet;

use serde_json::Value;
use trellis_platform::error::Violations;
use uuid::Uuid;

use super::names::check_display_name;

pub const MAX_KLIPS: usize = 100;
pub const MAX_LAYOUT_BYTES: usize = 64 * 1024;
pub const MAX_LAYOUT_DEPTH: usize = 32;

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

pub fn check_layout(violations: &mut Violations, field: &str, layout: &Value) {
    let size = serde_json::to_vec(layout).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_LAYOUT_BYTES {
        violations.add(
            field,
            format!("is {size} bytes encoded; at most {MAX_LAYOUT_BYTES} are allowed"),
        );
    } else if depth(layout) > MAX_LAYOUT_DEPTH {
        violations.add(
            field,
            format!("nests deeper than {MAX_LAYOUT_DEPTH} levels"),
        );
    } else if has_nul(layout) {
        violations.add(field, "must not contain NUL characters");
    }
}

/// PostgreSQL's JSON holds no NUL character, in keys or strings.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, item)| key.contains('\0') || has_nul(item)),
        _ => false,
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
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
        let cases = [
            (vec![id, id], json!({}), "dashboard.klip_ids[1]"),
            (vec![], json!({"x": "y".repeat(70_000)}), "dashboard.layout"),
            (vec![], json!({ "tabs": deep }), "dashboard.layout"),
        ];
        for (klip_ids, layout, field) in cases {
            let definition = DashboardDefinition {
                name: "Board".into(),
                klip_ids,
                layout,
            };
            assert_eq!(check(&definition), [field]);
        }
        let fine = DashboardDefinition {
            name: "Board".into(),
            klip_ids: vec![id],
            layout: json!({"columns": 3}),
        };
        assert!(check(&fine).is_empty());
    }
}
