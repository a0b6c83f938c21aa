//! JSON parsed under [`Bounds`]: a serde seed that builds the `serde_json::Value` while it
//! counts depth, items and the encoded size of what it built, and stops at the first bound
//! crossed. Depth is checked before a level is entered, so a hostile document never nests
//! deeper than the bound in memory (nor reaches serde_json's recursion limit), and the size
//! charged so far never exceeds the final encoded size, so a document that fits is never
//! refused. The memory the built value takes is estimated as it grows (at least
//! [`VALUE_MEMORY`] a value, [`MAP_NODE_MEMORY`] per eleven fields of an object, plus the
//! text), and a NUL in a string or a key is refused (the cache's `jsonb` cannot hold it).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::parse::{Bounds, VALUE_MEMORY};
use super::wire_size::{
    BOOL_LEN, NULL_LEN, NUMBER_LEN, entry_len, field_len, list_len, string_len,
};

/// The smallest framing of an item in a list or a struct: a tag and a one-byte length.
const MIN_FRAME: u64 = 2;

/// Memory charged per started group of [`MAP_NODE_FIELDS`] fields of an object: a
/// `BTreeMap` node holds eleven keys and values (some 630 bytes) however few are used.
const MAP_NODE_MEMORY: u64 = 640;
const MAP_NODE_FIELDS: usize = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crossed {
    Depth,
    Items,
    Bytes,
    Memory,
    Nul,
}

struct Budget<'a> {
    bounds: &'a Bounds,
    /// A lower bound of the encoded size of everything built so far.
    charged: Cell<u64>,
    /// The estimated memory of everything built so far.
    memory: Cell<u64>,
    crossed: Cell<Option<Crossed>>,
}

impl Budget<'_> {
    fn cross<E: de::Error>(&self, what: Crossed) -> E {
        self.crossed.set(Some(what));
        E::custom("a bound of fetched data was crossed")
    }

    fn charge<E: de::Error>(&self, bytes: u64) -> Result<(), E> {
        let charged = self.charged.get().saturating_add(bytes);
        self.charged.set(charged);
        if charged > self.bounds.max_bytes {
            return Err(self.cross(Crossed::Bytes));
        }
        Ok(())
    }

    fn spend<E: de::Error>(&self, bytes: u64) -> Result<(), E> {
        let memory = self.memory.get().saturating_add(bytes);
        self.memory.set(memory);
        if memory > self.bounds.max_memory {
            return Err(self.cross(Crossed::Memory));
        }
        Ok(())
    }

    /// Refuses text holding a NUL, and charges its memory.
    fn text<E: de::Error>(&self, text: &str) -> Result<(), E> {
        if text.contains('\0') {
            return Err(self.cross(Crossed::Nul));
        }
        self.spend(text.len() as u64)
    }
}

/// Parses `body` as one JSON document within `bounds`.
#[cfg(test)]
pub fn json(body: &[u8], bounds: &Bounds) -> Result<Value, String> {
    json_counted(body, bounds).map(|(value, _)| value)
}

/// Parses `body` as one JSON document within `bounds`; with the memory it takes, as
/// estimated.
pub fn json_counted(body: &[u8], bounds: &Bounds) -> Result<(Value, u64), String> {
    let budget = Budget {
        bounds,
        charged: Cell::new(0),
        memory: Cell::new(0),
        crossed: Cell::new(None),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        budget: &budget,
        depth: 1,
    }
    .deserialize(&mut deserializer)
    .and_then(|parsed| deserializer.end().map(|()| parsed));
    match (parsed, budget.crossed.get()) {
        (_, Some(Crossed::Depth)) => Err(bounds.too_deep()),
        (_, Some(Crossed::Items)) => Err(bounds.too_many_rows()),
        (_, Some(Crossed::Bytes)) => Err(bounds.too_large()),
        (_, Some(Crossed::Memory)) => Err(bounds.too_much_memory()),
        (_, Some(Crossed::Nul)) => Err(Bounds::has_nul()),
        (Ok((_, len)), None) if len > bounds.max_bytes => Err(bounds.too_large()),
        (Ok((value, _)), None) => Ok((value, budget.memory.get())),
        (Err(error), None) => Err(format!("the response is not valid JSON: {error}")),
    }
}

/// One value at `depth` (the document is at depth 1); parses to the value and its encoded
/// size as a `google.protobuf.Value`.
struct Node<'b, 'a> {
    budget: &'b Budget<'a>,
    depth: usize,
}

impl<'b, 'a> Node<'b, 'a> {
    fn child(&self) -> Node<'b, 'a> {
        Node {
            budget: self.budget,
            depth: self.depth + 1,
        }
    }

    fn scalar<E: de::Error>(&self, value: Value, len: u64) -> Result<(Value, u64), E> {
        self.budget.charge(len)?;
        Ok((value, len))
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = (Value, u64);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        if self.depth > self.budget.bounds.max_depth {
            return Err(self.budget.cross(Crossed::Depth));
        }
        self.budget.spend(VALUE_MEMORY)?;
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = (Value, u64);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        self.scalar(Value::Bool(value), BOOL_LEN)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        self.scalar(Value::Number(value.into()), NUMBER_LEN)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        self.scalar(Value::Number(value.into()), NUMBER_LEN)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        match Number::from_f64(value) {
            Some(number) => self.scalar(Value::Number(number), NUMBER_LEN),
            None => self.scalar(Value::Null, NULL_LEN),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        self.budget.text(value)?;
        self.scalar(Value::String(value.to_owned()), string_len(value.len()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        self.budget.text(&value)?;
        let len = string_len(value.len());
        self.scalar(Value::String(value), len)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.scalar(Value::Null, NULL_LEN)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.scalar(Value::Null, NULL_LEN)
    }

    fn visit_some<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.budget.charge(MIN_FRAME)?;
        let mut items = Vec::new();
        let mut framed = 0u64;
        while let Some((item, len)) = seq.next_element_seed(self.child())? {
            if items.len() >= self.budget.bounds.max_rows {
                return Err(self.budget.cross(Crossed::Items));
            }
            self.budget.charge(MIN_FRAME)?;
            framed += field_len(len);
            items.push(item);
        }
        Ok((Value::Array(items), list_len(framed)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        self.budget.charge(MIN_FRAME)?;
        let mut fields = Map::new();
        let mut framed = 0u64;
        while let Some(key) = map.next_key::<String>()? {
            self.budget.charge(string_len(key.len()))?;
            self.budget.text(&key)?;
            if fields.len().is_multiple_of(MAP_NODE_FIELDS) {
                self.budget.spend(MAP_NODE_MEMORY)?;
            }
            let (value, len) = map.next_value_seed(self.child())?;
            if fields.len() >= self.budget.bounds.max_rows {
                return Err(self.budget.cross(Crossed::Items));
            }
            self.budget.charge(MIN_FRAME)?;
            // A repeated key keeps its last value; counting both only overstates the size.
            framed += entry_len(key.len(), len);
            fields.insert(key, value);
        }
        Ok((Value::Object(fields), field_len(framed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::wire_size::value_len;

    const BOUNDS: Bounds = Bounds {
        max_depth: 32,
        max_rows: 100,
        max_bytes: 1 << 20,
        max_columns: 10,
        max_memory: 1 << 24,
    };

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_as_json_depth_does() {
        // 31 arrays around a scalar: depth 32, the most allowed.
        let fits = json(nested(31).as_bytes(), &BOUNDS).unwrap();
        assert_eq!(trellis_platform::validate::json_depth(&fits), 32);
        assert_eq!(
            json(nested(32).as_bytes(), &BOUNDS).unwrap_err(),
            BOUNDS.too_deep()
        );
        // Far past serde_json's own recursion limit, still the same clear answer.
        assert_eq!(
            json(nested(100_000).as_bytes(), &BOUNDS).unwrap_err(),
            BOUNDS.too_deep()
        );
        let object = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
        assert_eq!(
            json(object.as_bytes(), &BOUNDS).unwrap_err(),
            BOUNDS.too_deep()
        );
    }

    #[test]
    fn items_of_one_array_or_object_are_bounded() {
        let array = format!("[{}]", vec!["0"; 101].join(","));
        assert_eq!(
            json(array.as_bytes(), &BOUNDS).unwrap_err(),
            BOUNDS.too_many_rows()
        );
        let fields: Vec<String> = (0..101).map(|i| format!("\"k{i}\":{i}")).collect();
        let object = format!("{{{}}}", fields.join(","));
        assert_eq!(
            json(object.as_bytes(), &BOUNDS).unwrap_err(),
            BOUNDS.too_many_rows()
        );
        let hundred = format!("[{}]", vec!["0"; 100].join(","));
        assert!(json(hundred.as_bytes(), &BOUNDS).is_ok());
    }

    #[test]
    fn the_size_is_exact_so_data_that_fits_is_kept() {
        let text = r#"{"rows": [["a", 1, 2.5, null, true], {"": "x", "k": []}], "n": "é"}"#;
        let parsed = json(text.as_bytes(), &BOUNDS).unwrap();
        assert_eq!(parsed, serde_json::from_str::<Value>(text).unwrap());
        let len = value_len(&parsed);
        let exact = Bounds {
            max_bytes: len,
            ..BOUNDS
        };
        assert!(json(text.as_bytes(), &exact).is_ok());
        let short = Bounds {
            max_bytes: len - 1,
            ..BOUNDS
        };
        assert_eq!(
            json(text.as_bytes(), &short).unwrap_err(),
            short.too_large()
        );
    }

    #[test]
    fn a_large_document_stops_early() {
        let many = format!("[{}]", vec!["\"abcdefgh\""; 100].join(","));
        let small = Bounds {
            max_bytes: 100,
            ..BOUNDS
        };
        assert_eq!(
            json(many.as_bytes(), &small).unwrap_err(),
            small.too_large()
        );
    }

    #[test]
    fn a_nul_in_a_string_or_a_key_is_refused() {
        for text in [
            r#"["a\u0000b"]"#,
            r#"{"k\u0000": 1}"#,
            r#"{"k": {"\u0000": "x"}}"#,
            r#""\u0000""#,
        ] {
            assert_eq!(
                json(text.as_bytes(), &BOUNDS).unwrap_err(),
                Bounds::has_nul(),
                "{text}"
            );
        }
        // Other escapes stay allowed.
        assert!(json(br#"["a\u0001b", "\n"]"#, &BOUNDS).is_ok());
    }

    #[test]
    fn tiny_objects_are_charged_their_memory() {
        // 1,000 objects of one field: small on the wire, but each a map node in memory.
        let objects = format!("[{}]", vec![r#"{"":0}"#; 1000].join(","));
        let roomy = Bounds {
            max_rows: 1000,
            ..BOUNDS
        };
        let parsed = json(objects.as_bytes(), &roomy).unwrap();
        assert!(value_len(&parsed) < 20_000);
        let per_object = 2 * VALUE_MEMORY + MAP_NODE_MEMORY;
        let tight = Bounds {
            max_memory: 1000 * per_object,
            ..roomy
        };
        assert_eq!(
            json(objects.as_bytes(), &tight).unwrap_err(),
            tight.too_much_memory()
        );
        let enough = Bounds {
            max_memory: 1000 * per_object + VALUE_MEMORY,
            ..roomy
        };
        assert!(json(objects.as_bytes(), &enough).is_ok());
    }
}
