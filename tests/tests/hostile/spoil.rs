//! The spoiled requests: every field path of a request (into nested messages), the values
//! an attacker tries for each kind of field, and one oversized request.

use std::collections::HashMap;

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use trellis_e2e::world::World;
use uuid::Uuid;

/// How deep into nested request messages fields are spoiled.
const MAX_FIELD_DEPTH: usize = 3;
const LONG_LIST: usize = 10_000;
const OVERSIZED: usize = 5 * 1024 * 1024;

/// One spoiled request: which field, how, and the message to send.
pub(crate) struct Variant {
    pub(crate) field: String,
    pub(crate) how: String,
    pub(crate) message: DynamicMessage,
}

/// Every field path of `message`, into nested messages up to [`MAX_FIELD_DEPTH`]; the
/// well-known types are spoiled whole.
fn field_paths(message: &MessageDescriptor, depth: usize) -> Vec<Vec<FieldDescriptor>> {
    let mut paths = Vec::new();
    for field in message.fields() {
        paths.push(vec![field.clone()]);
        if let Kind::Message(inner) = field.kind()
            && !field.is_map()
            && !is_well_known(&inner)
            && depth < MAX_FIELD_DEPTH
        {
            for mut path in field_paths(&inner, depth + 1) {
                path.insert(0, field.clone());
                paths.push(path);
            }
        }
    }
    paths
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    message.full_name().starts_with("google.protobuf.")
}

fn path_name(path: &[FieldDescriptor]) -> String {
    path.iter().map(|f| f.name()).collect::<Vec<_>>().join(".")
}

/// Sets `value` at `path` in `message`, making the messages on the way (the first element
/// of a repeated one).
fn set_at(message: &mut DynamicMessage, path: &[FieldDescriptor], value: Value) {
    let (field, rest) = path.split_first().expect("a path");
    if rest.is_empty() {
        message.set_field(field, value);
        return;
    }
    let Kind::Message(inner) = field.kind() else {
        return;
    };
    let slot = message.get_field_mut(field);
    let nested = match slot {
        Value::List(items) => {
            if items.is_empty() {
                items.push(Value::Message(DynamicMessage::new(inner.clone())));
            }
            &mut items[0]
        }
        other => other,
    };
    if let Value::Message(nested) = nested {
        set_at(nested, rest, value);
    }
}

/// The spoiled values of one field.
fn hostile_values(field: &FieldDescriptor, world: &World) -> Vec<(String, Value)> {
    if field.is_map() {
        return hostile_maps(field);
    }
    let singles = hostile_singles(&field.kind(), world);
    if !field.is_list() {
        return singles;
    }
    let mut lists: Vec<(String, Value)> = vec![("an empty list".into(), Value::List(vec![]))];
    let element = singles
        .first()
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| Value::Bool(true));
    lists.push((
        format!("{LONG_LIST} elements"),
        Value::List(vec![element; LONG_LIST]),
    ));
    lists.extend(
        singles
            .into_iter()
            .map(|(how, value)| (format!("one element: {how}"), Value::List(vec![value]))),
    );
    lists
}

fn hostile_maps(field: &FieldDescriptor) -> Vec<(String, Value)> {
    let Kind::Message(entry) = field.kind() else {
        return vec![];
    };
    let value_field = entry.map_entry_value_field();
    let value = value_field.default_value();
    let key = |text: String| match entry.map_entry_key_field().kind() {
        Kind::String => MapKey::String(text),
        _ => MapKey::I64(text.len() as i64),
    };
    let many: HashMap<MapKey, Value> = (0..LONG_LIST)
        .map(|i| (key(format!("k{i}")), value.clone()))
        .collect();
    vec![
        (format!("{LONG_LIST} entries"), Value::Map(many)),
        (
            "a NUL key".into(),
            Value::Map(HashMap::from([(key("a\0b".into()), value)])),
        ),
    ]
}

fn hostile_singles(kind: &Kind, world: &World) -> Vec<(String, Value)> {
    let text = |how: &str, value: String| (how.to_owned(), Value::String(value));
    match kind {
        Kind::String => vec![
            text("empty", String::new()),
            text("a NUL byte", "a\0b".into()),
            text("control characters", "\u{7}\u{1b}[31m\u{8}".into()),
            text("100,000 characters", "x".repeat(100_000)),
            text("a path", "../../../etc/passwd".into()),
            text("SQL", "' OR 1=1; DROP TABLE accounts; --".into()),
            text("a template", "{{companyID}}{{".into()),
            text("emoji", "\u{1F600}".repeat(1_000)),
            text("a random id", Uuid::new_v4().to_string()),
            text("a sibling's id", world.ids["{B}"].clone()),
            text("another family's id", world.ids["{Q}"].clone()),
            text("a partner's id", world.ids["{P}"].clone()),
        ],
        Kind::Bytes => vec![
            ("empty bytes".into(), Value::Bytes(Default::default())),
            (
                "1 MiB of 0xff".into(),
                Value::Bytes(vec![0xff; 1 << 20].into()),
            ),
        ],
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => [i32::MIN, -1, 0, i32::MAX]
            .map(|n| (format!("{n}"), Value::I32(n)))
            .into(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => [i64::MIN, -1, 0, i64::MAX]
            .map(|n| (format!("{n}"), Value::I64(n)))
            .into(),
        Kind::Uint32 | Kind::Fixed32 => [0, u32::MAX]
            .map(|n| (format!("{n}"), Value::U32(n)))
            .into(),
        Kind::Uint64 | Kind::Fixed64 => [0, u64::MAX]
            .map(|n| (format!("{n}"), Value::U64(n)))
            .into(),
        Kind::Float => [f32::NAN, f32::INFINITY, f32::MIN]
            .map(|n| (format!("{n}"), Value::F32(n)))
            .into(),
        Kind::Double => [f64::NAN, f64::NEG_INFINITY, f64::MAX]
            .map(|n| (format!("{n}"), Value::F64(n)))
            .into(),
        Kind::Bool => vec![("true".into(), Value::Bool(true))],
        Kind::Enum(_) => [-1, 0, 9999]
            .map(|n| (format!("enum value {n}"), Value::EnumNumber(n)))
            .into(),
        Kind::Message(message) => hostile_messages(message),
    }
}

fn hostile_messages(message: &MessageDescriptor) -> Vec<(String, Value)> {
    let seconds = |seconds: i64, nanos: i32| {
        let mut value = DynamicMessage::new(message.clone());
        value.set_field_by_name("seconds", Value::I64(seconds));
        value.set_field_by_name("nanos", Value::I32(nanos));
        value
    };
    let json = || JsonTypes::of(message);
    let values: Vec<(String, DynamicMessage)> = match message.full_name() {
        "google.protobuf.Duration" | "google.protobuf.Timestamp" => vec![
            ("i64::MIN seconds".into(), seconds(i64::MIN, 0)),
            ("i64::MAX seconds".into(), seconds(i64::MAX, 999_999_999)),
            ("negative nanos".into(), seconds(0, -1)),
            ("nanos past a second".into(), seconds(1, i32::MAX)),
            ("after year 9999".into(), seconds(253_402_300_800, 0)),
        ],
        "google.protobuf.FieldMask" => {
            let mask = |paths: Vec<String>| {
                let mut value = DynamicMessage::new(message.clone());
                value.set_field_by_name(
                    "paths",
                    Value::List(paths.into_iter().map(Value::String).collect()),
                );
                value
            };
            vec![
                ("an unknown path".into(), mask(vec!["no_such_field".into()])),
                ("a wildcard".into(), mask(vec!["*".into()])),
                ("an empty path".into(), mask(vec![String::new()])),
                ("a NUL path".into(), mask(vec!["a\0b".into()])),
                ("1,000 paths".into(), mask(vec!["name".into(); 1_000])),
            ]
        }
        "google.protobuf.Struct" => vec![
            ("40 levels".into(), json().nested_struct(40)),
            ("120 levels".into(), json().nested_struct(120)),
            ("10,000 keys".into(), json().wide_struct(LONG_LIST)),
        ],
        "google.protobuf.Value" => vec![
            ("40 levels".into(), json().nested_value(40)),
            ("120 levels".into(), json().nested_value(120)),
        ],
        _ => vec![("empty".into(), DynamicMessage::new(message.clone()))],
    };
    values
        .into_iter()
        .map(|(how, value)| (how, Value::Message(value)))
        .collect()
}

/// Builds `google.protobuf.Struct` and `Value` messages directly, however deep: going
/// through JSON would stop at the decoders' own limits, which is what the server must meet.
struct JsonTypes {
    value: MessageDescriptor,
    structure: MessageDescriptor,
    list: MessageDescriptor,
}

impl JsonTypes {
    fn of(message: &MessageDescriptor) -> Self {
        let pool = message.parent_pool();
        let get = |name: &str| pool.get_message_by_name(name).expect(name);
        Self {
            value: get("google.protobuf.Value"),
            structure: get("google.protobuf.Struct"),
            list: get("google.protobuf.ListValue"),
        }
    }

    fn value_of(&self, field: &str, inner: Value) -> DynamicMessage {
        let mut value = DynamicMessage::new(self.value.clone());
        value.set_field_by_name(field, inner);
        value
    }

    fn structure_of(&self, fields: HashMap<MapKey, Value>) -> DynamicMessage {
        let mut structure = DynamicMessage::new(self.structure.clone());
        structure.set_field_by_name("fields", Value::Map(fields));
        structure
    }

    /// `{"a": {"a": … "leaf"}}`, `levels` deep.
    fn nested_struct(&self, levels: usize) -> DynamicMessage {
        let leaf = self.value_of("string_value", Value::String("leaf".into()));
        let mut structure = self.structure_of(HashMap::from([(
            MapKey::String("a".into()),
            Value::Message(leaf),
        )]));
        for _ in 1..levels {
            let inner = self.value_of("struct_value", Value::Message(structure));
            structure = self.structure_of(HashMap::from([(
                MapKey::String("a".into()),
                Value::Message(inner),
            )]));
        }
        structure
    }

    /// `[[[… 1]]]`, `levels` deep.
    fn nested_value(&self, levels: usize) -> DynamicMessage {
        let mut value = self.value_of("number_value", Value::F64(1.0));
        for _ in 0..levels {
            let mut list = DynamicMessage::new(self.list.clone());
            list.set_field_by_name("values", Value::List(vec![Value::Message(value)]));
            value = self.value_of("list_value", Value::Message(list));
        }
        value
    }

    fn wide_struct(&self, keys: usize) -> DynamicMessage {
        self.structure_of(
            (0..keys)
                .map(|i| {
                    let value = self.value_of("number_value", Value::F64(i as f64));
                    (MapKey::String(format!("k{i}")), Value::Message(value))
                })
                .collect(),
        )
    }
}

/// Every spoiled variant of `base`, and one 5 MiB request.
pub(crate) fn variants(base: &DynamicMessage, world: &World) -> Vec<Variant> {
    let mut variants = Vec::new();
    for path in field_paths(&base.descriptor(), 0) {
        for (how, value) in hostile_values(path.last().expect("a field"), world) {
            let mut message = base.clone();
            set_at(&mut message, &path, value);
            variants.push(Variant {
                field: path_name(&path),
                how,
                message,
            });
        }
    }
    let string_path = field_paths(&base.descriptor(), 0).into_iter().find(|path| {
        let last = path.last().expect("a field");
        last.kind() == Kind::String && !last.is_list() && !last.is_map()
    });
    if let Some(path) = string_path {
        let mut message = base.clone();
        set_at(&mut message, &path, Value::String("x".repeat(OVERSIZED)));
        variants.push(Variant {
            field: path_name(&path),
            how: OVERSIZED_HOW.into(),
            message,
        });
    }
    variants
}

pub(crate) const OVERSIZED_HOW: &str = "a 5 MiB request";
