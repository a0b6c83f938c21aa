//! Klips on the wire, and the checks a Klip definition needs from the store.

use diesel_async::AsyncPgConnection;
use trellis_platform::error::{ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::convert::timestamp;
use crate::domain::klip::{Component, KlipDefinition};
use crate::domain::stored::Klip;
use crate::store::data_sources;

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

/// Adds a violation for every binding whose data source is not in `account`. The
/// description is the same whether the id exists elsewhere or not at all.
pub async fn check_bindings(
    conn: &mut AsyncPgConnection,
    violations: &mut Violations,
    account: Uuid,
    prefix: &str,
    definition: &KlipDefinition,
) -> ApiResult<()> {
    let wanted = definition.bindings.iter().flatten().copied().collect();
    let present = data_sources::existing(conn, account, &wanted).await?;
    for (i, binding) in definition.bindings.iter().enumerate() {
        if let Some(id) = binding
            && !present.contains(id)
        {
            violations.add(
                format!("{prefix}.bindings[{i}].data_source_id"),
                format!("no data source {id} in the Klip's account"),
            );
        }
    }
    Ok(())
}
