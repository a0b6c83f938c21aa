//! The library's messages as this service's domain values, and back: asset kinds and
//! references, accounts (for the family rules), Klip definitions and dependency closures.

use std::collections::BTreeMap;

use trellis_proto::library::v1 as library;
use uuid::Uuid;

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::family::{Account, AccountKind};
use crate::domain::link::{Component, KlipDefinition};
use crate::domain::spec::{ImportSpec, PlannedAsset};

/// The library's asset kind; `None` for UNSPECIFIED or an unknown value.
pub fn asset_kind(value: i32) -> Option<AssetKind> {
    match library::AssetKind::try_from(value).ok()? {
        library::AssetKind::DataSource => Some(AssetKind::DataSource),
        library::AssetKind::Klip => Some(AssetKind::Klip),
        library::AssetKind::Dashboard => Some(AssetKind::Dashboard),
        library::AssetKind::Unspecified => None,
    }
}

pub fn library_kind(kind: AssetKind) -> library::AssetKind {
    match kind {
        AssetKind::DataSource => library::AssetKind::DataSource,
        AssetKind::Klip => library::AssetKind::Klip,
        AssetKind::Dashboard => library::AssetKind::Dashboard,
    }
}

pub fn library_ref(asset: AssetRef) -> library::AssetRef {
    library::AssetRef {
        kind: library_kind(asset.kind) as i32,
        id: asset.id.to_string(),
    }
}

/// A library reference; `None` when it names no known kind or no UUID.
pub fn asset_ref(asset: &library::AssetRef) -> Option<AssetRef> {
    Some(AssetRef::new(
        asset_kind(asset.kind)?,
        Uuid::parse_str(&asset.id).ok()?,
    ))
}

/// An account as the family rules see it. An unreadable id or parent is no family: such an
/// account can import nothing.
pub fn account(account: &library::Account) -> Account {
    let kind = match library::AccountKind::try_from(account.kind) {
        Ok(library::AccountKind::Partner) => AccountKind::Partner,
        Ok(library::AccountKind::Client) => AccountKind::Client,
        _ => AccountKind::Standard,
    };
    match Uuid::parse_str(&account.id) {
        Ok(id) => Account {
            id,
            kind,
            parent_id: Uuid::parse_str(&account.parent_id).ok(),
        },
        Err(_) => Account {
            id: Uuid::nil(),
            kind: AccountKind::Standard,
            parent_id: None,
        },
    }
}

/// What a library Klip is made of.
pub fn klip_definition(klip: &library::Klip) -> KlipDefinition {
    KlipDefinition {
        name: klip.name.clone(),
        components: klip
            .components
            .iter()
            .map(|c| Component {
                name: c.name.clone(),
                formula: c.formula.clone(),
            })
            .collect(),
        bindings: klip
            .bindings
            .iter()
            .map(|b| Uuid::parse_str(&b.data_source_id).ok())
            .collect(),
    }
}

pub fn library_components(definition: &KlipDefinition) -> Vec<library::Component> {
    definition
        .components
        .iter()
        .map(|c| library::Component {
            name: c.name.clone(),
            formula: c.formula.clone(),
        })
        .collect()
}

/// A closure the library answered with something this service cannot read.
#[derive(Debug, thiserror::Error)]
#[error("the library's dependency closure names {0}")]
pub struct UnreadableClosure(String);

/// The spec of a library dependency closure.
pub fn spec_of_closure(
    closure: &library::GetDependencyClosureResponse,
) -> Result<ImportSpec, UnreadableClosure> {
    let optional_id = |text: &str| -> Result<Option<Uuid>, UnreadableClosure> {
        if text.is_empty() {
            Ok(None)
        } else {
            Uuid::parse_str(text)
                .map(Some)
                .map_err(|_| UnreadableClosure(format!("a malformed id {text:?}")))
        }
    };
    let mut assets = Vec::with_capacity(closure.assets.len());
    for entry in &closure.assets {
        let asset = entry
            .asset
            .as_ref()
            .and_then(asset_ref)
            .ok_or_else(|| UnreadableClosure("an asset without kind or id".into()))?;
        let dependencies = entry
            .dependencies
            .iter()
            .map(|d| asset_ref(d).ok_or_else(|| UnreadableClosure("a malformed dependency".into())))
            .collect::<Result<Vec<_>, _>>()?;
        assets.push(PlannedAsset {
            kind: asset.kind,
            id: asset.id,
            name: entry.name.clone(),
            selected: entry.selected,
            version: entry.version,
            fingerprint: entry.fingerprint.clone(),
            dependencies,
            credential_id: optional_id(&entry.credential_id)?,
            token_id: optional_id(&entry.token_id)?,
            template_properties: entry.template_properties.clone(),
        });
    }
    Ok(ImportSpec {
        assets,
        variables: closure.variables.clone(),
        reuse_ids: BTreeMap::new(),
        replaced: None,
    })
}
