//! How much a render may return. RenderKlip and ViewEmbed answers must stay decodable by
//! callers that keep gRPC's default 4 MiB limit on what they receive, so the values of all
//! of a render's components together have a budget; a component whose values do not fit
//! in what is left has an error instead.

use serde_json::Value;

/// Bytes of component values one render returns, counted as [`wire_bytes`] does: 3 MiB,
/// leaving room under 4 MiB for names, errors and freshness.
pub const MAX_RENDER_VALUE_BYTES: usize = 3 * 1024 * 1024;

/// About what `value` takes as a `google.protobuf.Value` in a `ListValue` (a little more,
/// never less: each value pays for its field tag and length prefix), counted without
/// recursion.
pub fn wire_bytes(value: &Value) -> usize {
    // Tag, length prefix and the Value's own tag: a number is a tag and eight bytes.
    const FRAME: usize = 1 + 5 + 1;
    let mut total = 0usize;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        total = total.saturating_add(
            FRAME
                + match value {
                    Value::Null | Value::Bool(_) => 1,
                    Value::Number(_) => 8,
                    Value::String(text) => 5 + text.len(),
                    Value::Array(items) => {
                        pending.extend(items);
                        5
                    }
                    Value::Object(fields) => {
                        pending.extend(fields.values());
                        // Each entry: its own frame, the key with its tag and prefix.
                        5 + fields
                            .keys()
                            .map(|key| FRAME + 6 + key.len())
                            .sum::<usize>()
                    }
                },
        );
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use serde_json::json;

    use crate::api::convert::json_to_value;

    #[test]
    fn wire_bytes_are_never_less_than_the_encoding() {
        for value in [
            json!(null),
            json!(1.5),
            json!("é".repeat(300)),
            json!([1, 2, [3, "four"], {"a": {"b": [true, null]}}]),
            json!({"": "", "key": 12345678901u64, "nested": {"x": vec!["a"; 40]}}),
        ] {
            let list = prost_types::ListValue {
                values: vec![json_to_value(&value)],
            };
            let encoded = list.encoded_len();
            let counted = wire_bytes(&value);
            assert!(counted >= encoded, "{value}: {counted} < {encoded}");
            assert!(
                counted <= 4 * encoded + 16,
                "{value}: {counted} vs {encoded}"
            );
        }
    }
}
