//! Every string a caller sends is checked before a handler sees it: no NUL byte (PostgreSQL
//! text cannot hold one) and no control character other than tab, line feed and carriage
//! return (`trellis_platform::validate::text_problem`). The check walks the request through
//! its descriptor, so a field added to the contract is covered without a handler having to
//! remember it, and each violation names the field the way handlers do
//! (`klip.components[1].name`). Lengths stay the handlers' business. Layouts
//! (`google.protobuf.Struct`) are JSON to their handler, which checks their keys and texts.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::validate::text_problem;

static CONTRACTS: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(trellis_proto::FILE_DESCRIPTOR_SET).ok());

/// The messages whose strings are free-form JSON to their handler.
const JSON_MESSAGES: [&str; 3] = [
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
];

/// INVALID_ARGUMENT naming every string field of `message` (of the type `full_name`) that
/// holds a NUL byte or a control character. A message the check cannot walk (no descriptor,
/// or it does not decode again) is the service's own fault, never let through unchecked:
/// INTERNAL, logged where it becomes a status.
pub fn check<M: prost::Message>(full_name: &str, message: &M) -> ApiResult<()> {
    let Some(descriptor) = CONTRACTS
        .as_ref()
        .and_then(|pool| pool.get_message_by_name(full_name))
    else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "no descriptor for {full_name}: its strings cannot be checked"
        )));
    };
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).map_err(
        |error| {
            ApiError::internal(anyhow::anyhow!(
                "{full_name} does not decode with its descriptor: {error}"
            ))
        },
    )?;
    check_dynamic(&dynamic)
}

fn check_dynamic(message: &DynamicMessage) -> ApiResult<()> {
    let mut violations = Violations::new();
    walk_message(message, "", &mut violations);
    violations.into_result()
}

fn walk_message(message: &DynamicMessage, prefix: &str, violations: &mut Violations) {
    if JSON_MESSAGES.contains(&message.descriptor().full_name()) {
        return;
    }
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        walk_value(value, &path, violations);
    }
}

fn walk_value(value: &Value, path: &str, violations: &mut Violations) {
    match value {
        Value::String(text) => {
            if let Some(problem) = text_problem(text, usize::MAX) {
                violations.add(path, problem);
            }
        }
        Value::Message(message) => walk_message(message, path, violations),
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), violations);
            }
        }
        Value::Map(entries) => {
            for (key, item) in entries {
                let key = match key {
                    prost_reflect::MapKey::String(key) => {
                        if let Some(problem) = text_problem(key, usize::MAX) {
                            violations.add(path, format!("keys {problem}"));
                        }
                        key.clone()
                    }
                    other => format!("{other:?}"),
                };
                walk_value(item, &format!("{path}[{key:?}]"), violations);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_proto::library::v1 as pb;

    fn fields<M: prost::Message>(name: &str, message: &M) -> Vec<String> {
        match check(&format!("trellis.library.v1.{name}"), message) {
            Ok(()) => vec![],
            Err(ApiError::InvalidArgument(list)) => list.into_iter().map(|v| v.field).collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn every_string_field_is_checked_and_named() {
        let request = pb::CreateKlipRequest {
            request_id: "r\u{1b}".into(),
            klip: Some(pb::Klip {
                name: "fine\ttab".into(),
                components: vec![
                    pb::Component {
                        name: "a".into(),
                        formula: "\"a\0b\"".into(),
                    },
                    pb::Component {
                        name: "b\u{7}".into(),
                        formula: "1 +\n 2".into(),
                    },
                ],
                bindings: vec![pb::Binding {
                    data_source_id: "\0".into(),
                }],
                ..Default::default()
            }),
        };
        assert_eq!(
            fields("CreateKlipRequest", &request),
            [
                "request_id",
                "klip.components[0].formula",
                "klip.components[1].name",
                "klip.bindings[0].data_source_id",
            ]
        );
    }

    /// Every path to a string field below `descriptor` (one element of each list), with
    /// the fields on the way.
    fn string_paths(
        descriptor: &prost_reflect::MessageDescriptor,
        depth: usize,
    ) -> Vec<(String, Vec<prost_reflect::FieldDescriptor>)> {
        let mut paths = vec![];
        if depth > 8 || JSON_MESSAGES.contains(&descriptor.full_name()) {
            return paths;
        }
        for field in descriptor.fields() {
            let name = if field.is_list() {
                format!("{}[0]", field.name())
            } else {
                field.name().to_owned()
            };
            match field.kind() {
                prost_reflect::Kind::String => paths.push((name, vec![field])),
                prost_reflect::Kind::Message(inner) if !field.is_map() => {
                    for (below, fields) in string_paths(&inner, depth + 1) {
                        let mut all = vec![field.clone()];
                        all.extend(fields);
                        paths.push((format!("{name}.{below}"), all));
                    }
                }
                _ => {}
            }
        }
        paths
    }

    /// A message of `descriptor` whose only string, at the end of `fields`, is `text`.
    fn with_string(
        descriptor: prost_reflect::MessageDescriptor,
        fields: &[prost_reflect::FieldDescriptor],
        text: &str,
    ) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor);
        let (field, rest) = fields.split_first().expect("a path");
        let value = match field.kind() {
            prost_reflect::Kind::Message(inner) => Value::Message(with_string(inner, rest, text)),
            _ => Value::String(text.to_owned()),
        };
        let value = if field.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        message.set_field(field, value);
        message
    }

    #[test]
    fn a_nul_in_any_string_of_any_request_is_found_at_its_path() {
        let pool = CONTRACTS.as_ref().expect("the descriptors decode");
        let service = pool
            .get_service_by_name("trellis.library.v1.LibraryService")
            .expect("the library service");
        let mut checked = 0;
        for method in service.methods() {
            let request = method.input();
            for (path, fields) in string_paths(&request, 0) {
                let message = with_string(request.clone(), &fields, "a\0b");
                match check_dynamic(&message) {
                    Err(ApiError::InvalidArgument(list)) => {
                        let found: Vec<_> = list.iter().map(|v| v.field.as_str()).collect();
                        assert_eq!(found, [path.as_str()], "{}", method.name());
                    }
                    other => panic!("{}: {path}: {other:?}", method.name()),
                }
                let clean = with_string(request.clone(), &fields, "fine\tline\n");
                assert!(check_dynamic(&clean).is_ok(), "{}: {path}", method.name());
                checked += 1;
            }
        }
        // Every RPC takes some string (an id, a request id, a name).
        assert!(checked > 100, "{checked} fields");
    }

    #[test]
    fn clean_requests_and_layouts_are_left_to_their_handlers() {
        let layout = prost_types::Struct {
            fields: [(
                "key\0".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("\u{7}".into())),
                },
            )]
            .into(),
        };
        let request = pb::CreateDashboardRequest {
            request_id: String::new(),
            dashboard: Some(pb::Dashboard {
                name: "Board".into(),
                layout: Some(layout),
                ..Default::default()
            }),
        };
        assert!(fields("CreateDashboardRequest", &request).is_empty());
    }

    #[test]
    fn a_request_without_a_descriptor_fails_closed() {
        let request = pb::GetKlipRequest::default();
        assert!(matches!(
            check("no.such.Message", &request),
            Err(ApiError::Internal(_))
        ));
    }

    #[test]
    fn every_request_the_service_takes_has_a_descriptor() {
        let pool = CONTRACTS.as_ref().expect("the descriptors decode");
        let requests = crate::api::REQUEST_MESSAGES;
        assert!(requests.len() > 30, "{} requests", requests.len());
        for name in requests {
            assert!(pool.get_message_by_name(name).is_some(), "{name}");
        }
    }
}
