//! Klips on the wire, and the checks a Klip definition needs from the store.

use trellis_platform::error::Violations;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::timestamp;
use crate::domain::klip::Component;
use crate::domain::stored::Klip;
use crate::domain::stored::Stored;

pub fn to_proto(klip: &Klip) -> pb::Klip {
    let definition = &klip.definition;
    pb::Klip {
        id: klip.id.to_string(),
        account_id: klip.account_id.to_string(),
        name: definition.name.clone(),
        components: definition
            .components
            .iter()
            .map(|c| pb::Component {
                name: c.name.clone(),
                formula: c.formula.clone(),
            })
            .collect(),
        bindings: definition
            .bindings
            .iter()
            .map(|b| pb::Binding {
                data_source_id: b.map(|id| id.to_string()).unwrap_or_default(),
            })
            .collect(),
        variables: klip.variables.clone(),
        version: klip.version,
        etag: klip.etag(),
        create_time: timestamp(klip.created_at),
        update_time: timestamp(klip.updated_at),
    }
}

pub fn components(components: &[pb::Component]) -> Vec<Component> {
    components
        .iter()
        .map(|c| Component {
            name: c.name.clone(),
            formula: c.formula.clone(),
        })
        .collect()
}

/// Bindings from the wire: each a data source id.
pub fn bindings(
    violations: &mut Violations,
    prefix: &str,
    bindings: &[pb::Binding],
) -> Vec<Option<Uuid>> {
    bindings
        .iter()
        .enumerate()
        .map(|(i, binding)| {
            let field = format!("{prefix}.bindings[{i}].data_source_id");
            if binding.data_source_id.is_empty() {
                violations.add(field, "is required");
                None
            } else {
                match Uuid::parse_str(&binding.data_source_id) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        violations.add(field, "must be a UUID");
                        None
                    }
                }
            }
        })
        .collect()
}
