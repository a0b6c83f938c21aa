//! The size of data as a GetCachedData answer carries it: a `google.protobuf.Value`
//! (`api::convert::value`), counted from the JSON without building the message. Fetches are
//! refused past `TRELLIS_REFRESH_MAX_CACHED_BYTES` of it, so that whatever is cached fits in
//! an answer the library can decode.

use serde_json::Value;

/// `Value.null_value` or `Value.bool_value`: a tag and a one-byte varint.
pub const NULL_LEN: u64 = 2;
pub const BOOL_LEN: u64 = 2;
/// `Value.number_value`: a tag and eight bytes.
pub const NUMBER_LEN: u64 = 9;

/// Bytes of `n` as a protobuf varint.
pub fn varint_len(n: u64) -> u64 {
    u64::from((64 - (n | 1).leading_zeros()).div_ceil(7))
}

/// Bytes of a length-delimited field (field number below 16) holding `body` bytes.
pub fn field_len(body: u64) -> u64 {
    1 + varint_len(body) + body
}

/// A `Value` holding a string of `bytes` UTF-8 bytes.
pub fn string_len(bytes: usize) -> u64 {
    field_len(bytes as u64)
}

/// A `Value` holding a list whose items' `Value`s add up to `items` bytes once each is framed
/// with [`field_len`].
pub fn list_len(framed_items: u64) -> u64 {
    field_len(framed_items)
}

/// One framed entry of a `Struct`'s map: the key (left out by the encoder when empty) and
/// the value.
pub fn entry_len(key_bytes: usize, value_len: u64) -> u64 {
    let key = if key_bytes == 0 {
        0
    } else {
        field_len(key_bytes as u64)
    };
    field_len(key + field_len(value_len))
}

/// The encoded size of `value` as a `google.protobuf.Value`.
pub fn value_len(value: &Value) -> u64 {
    match value {
        Value::Null => NULL_LEN,
        Value::Bool(_) => BOOL_LEN,
        Value::Number(_) => NUMBER_LEN,
        Value::String(text) => string_len(text.len()),
        Value::Array(items) => list_len(items.iter().map(|item| field_len(value_len(item))).sum()),
        Value::Object(fields) => field_len(
            fields
                .iter()
                .map(|(key, value)| entry_len(key.len(), value_len(value)))
                .sum(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::api::convert;

    #[test]
    fn sizes_match_the_protobuf_encoding() {
        let long = "x".repeat(300);
        let many: Vec<Value> = (0..200).map(|i| serde_json::json!([i, "a"])).collect();
        for value in [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(false),
            serde_json::json!(0),
            serde_json::json!(-1.5),
            serde_json::json!(""),
            serde_json::json!(long),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!({"": 1, "a": null, "b": [1, "two", {"c": false}]}),
            serde_json::json!([["region", "sales"], ["north", "10"]]),
            serde_json::json!({ "rows": many, "long": long }),
        ] {
            assert_eq!(
                value_len(&value),
                convert::value(&value).encoded_len() as u64,
                "{value}"
            );
        }
    }

    #[test]
    fn varints_take_seven_bits_a_byte() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(16_383), 2);
        assert_eq!(varint_len(16_384), 3);
        assert_eq!(varint_len(u64::MAX), 10);
    }
}
