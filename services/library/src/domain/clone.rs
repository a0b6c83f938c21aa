//! Clone plans (I5, I7): which asset of the source becomes which asset of the destination,
//! and the definitions with their references rewritten to the copies.

use std::collections::{BTreeMap, BTreeSet};

use trellis_platform::error::{ApiResult, Violations};
use uuid::Uuid;

use super::asset::{AssetKind, AssetRef, Selection};
use super::closure::{AssetGraph, Closure};
use super::dashboard::DashboardDefinition;
use super::klip::KlipDefinition;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClonePlan {
    /// Source asset → destination id: data sources, then Klips, then dashboards.
    pub mappings: Vec<(AssetRef, Uuid)>,
    /// Destination ids that exist already and are overwritten in place (re-import).
    pub reused: BTreeSet<Uuid>,
    by_source: BTreeMap<AssetRef, Uuid>,
}

impl ClonePlan {
    /// Checks that `requested` exists in the source and is closed under I3, then gives
    /// every asset its destination id: the one `reuse_ids` names, else a new one (I7).
    pub fn new(
        requested: &[AssetRef],
        graph: &AssetGraph,
        closure: &Closure,
        reuse_ids: &BTreeMap<Uuid, Uuid>,
        mut mint: impl FnMut() -> Uuid,
    ) -> ApiResult<Self> {
        let mut violations = Violations::new();
        let selection = Selection::from_refs(requested);
        for (i, asset) in requested.iter().enumerate() {
            let present = match asset.kind {
                AssetKind::Dashboard => graph.dashboards.contains_key(&asset.id),
                AssetKind::Klip => graph.klips.contains_key(&asset.id),
                AssetKind::DataSource => graph.data_sources.contains_key(&asset.id),
            };
            if !present {
                violations.add(
                    format!("assets[{i}]"),
                    format!(
                        "no {} {} in the source account",
                        asset.kind.noun(),
                        asset.id
                    ),
                );
            }
        }
        for asset in closure.assets() {
            if !selection.contains(&asset) {
                violations.add(
                    "assets",
                    format!(
                        "{} {} is a dependency of the selection and must be listed too (I3)",
                        asset.kind.noun(),
                        asset.id
                    ),
                );
            }
        }
        let requested_ids: BTreeSet<Uuid> = requested.iter().map(|a| a.id).collect();
        let mut targets = BTreeSet::new();
        for (source, destination) in reuse_ids {
            if !requested_ids.contains(source) {
                violations.add(
                    format!("reuse_ids[{source}]"),
                    "is not one of the assets to clone",
                );
            }
            if !targets.insert(*destination) {
                violations.add(
                    format!("reuse_ids[{source}]"),
                    "names a destination asset that another entry names too",
                );
            }
        }
        violations.into_result()?;

        let mut plan = ClonePlan {
            mappings: Vec::new(),
            reused: BTreeSet::new(),
            by_source: BTreeMap::new(),
        };
        for asset in closure.assets() {
            let destination = match reuse_ids.get(&asset.id) {
                Some(id) => {
                    plan.reused.insert(*id);
                    *id
                }
                None => mint(),
            };
            plan.mappings.push((asset, destination));
            plan.by_source.insert(asset, destination);
        }
        Ok(plan)
    }

    pub fn destination(&self, kind: AssetKind, source: Uuid) -> Option<Uuid> {
        self.by_source.get(&AssetRef { kind, id: source }).copied()
    }

    /// The Klip with its bindings pointing at the copied data sources. A dangling binding
    /// stays dangling.
    pub fn klip(&self, definition: &KlipDefinition) -> KlipDefinition {
        KlipDefinition {
            bindings: definition
                .bindings
                .iter()
                .map(|binding| binding.and_then(|id| self.destination(AssetKind::DataSource, id)))
                .collect(),
            ..definition.clone()
        }
    }

    /// The dashboard showing the copied Klips.
    pub fn dashboard(&self, definition: &DashboardDefinition) -> DashboardDefinition {
        DashboardDefinition {
            klip_ids: definition
                .klip_ids
                .iter()
                .filter_map(|id| self.destination(AssetKind::Klip, *id))
                .collect(),
            ..definition.clone()
        }
    }
}

#[cfg(test)]
mod tests;
