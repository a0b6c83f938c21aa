//! Dependency closures (I3, I4): a dashboard brings its Klips, a Klip its data sources, and
//! together they use variables, template properties, credentials and tokens.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::asset::{AssetKind, AssetRef, Selection};
use super::stored::{Dashboard, DataSource, Klip};

/// Assets of one account, loaded for a selection and everything it reaches.
#[derive(Debug, Clone, Default)]
pub struct AssetGraph {
    pub dashboards: BTreeMap<Uuid, Dashboard>,
    pub klips: BTreeMap<Uuid, Klip>,
    pub data_sources: BTreeMap<Uuid, DataSource>,
}

impl AssetGraph {
    /// The Klips of the loaded dashboards.
    pub fn klips_of_dashboards(&self) -> BTreeSet<Uuid> {
        self.dashboards
            .values()
            .flat_map(|d| d.definition.klip_ids.iter().copied())
            .collect()
    }

    /// The data sources the loaded Klips bind.
    pub fn data_sources_of_klips(&self) -> BTreeSet<Uuid> {
        self.klips
            .values()
            .flat_map(|k| k.definition.bindings.iter().flatten().copied())
            .collect()
    }
}

/// One asset of a closure and what it directly depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureEntry {
    pub asset: AssetRef,
    pub selected: bool,
    pub dependencies: Vec<AssetRef>,
}

/// A referenced asset that is not there: a selected id the account does not have, or a
/// dangling binding (`id` none) of a Klip whose data source was deleted with force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingAsset {
    pub kind: AssetKind,
    pub id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Data sources, then Klips, then dashboards; each once.
    pub entries: Vec<ClosureEntry>,
    /// Formula variables, plus template properties the account defines as variables.
    pub variables: Vec<String>,
    pub credential_ids: Vec<Uuid>,
    pub token_ids: Vec<Uuid>,
    pub template_properties: Vec<String>,
    pub missing: Vec<MissingAsset>,
}

impl Closure {
    /// The closure of `selected` over `graph`, which holds the selection and everything it
    /// reaches. `defined_variables` are the names the account defines as variables: a
    /// template's `{props.X}` counts as a variable dependency when X is one of them (I4).
    pub fn compute(
        selected: &Selection,
        graph: &AssetGraph,
        defined_variables: &BTreeSet<String>,
    ) -> Closure {
        let mut missing = BTreeSet::new();
        let mut note_missing = |kind, id| {
            missing.insert(MissingAsset { kind, id });
        };

        let mut dashboards = Vec::new();
        let mut klip_ids = selected.klips.clone();
        for id in &selected.dashboards {
            match graph.dashboards.get(id) {
                Some(dashboard) => {
                    klip_ids.extend(dashboard.definition.klip_ids.iter().copied());
                    dashboards.push(dashboard);
                }
                None => note_missing(AssetKind::Dashboard, Some(*id)),
            }
        }
        let mut klips = Vec::new();
        let mut data_source_ids = selected.data_sources.clone();
        for id in &klip_ids {
            match graph.klips.get(id) {
                Some(klip) => {
                    for binding in &klip.definition.bindings {
                        match binding {
                            Some(data_source) => {
                                data_source_ids.insert(*data_source);
                            }
                            None => note_missing(AssetKind::DataSource, None),
                        }
                    }
                    klips.push(klip);
                }
                None => note_missing(AssetKind::Klip, Some(*id)),
            }
        }
        let mut data_sources = Vec::new();
        for id in &data_source_ids {
            match graph.data_sources.get(id) {
                Some(data_source) => data_sources.push(data_source),
                None => note_missing(AssetKind::DataSource, Some(*id)),
            }
        }

        let mut closure = Closure::default();
        let mut variables = BTreeSet::new();
        let mut template_properties = BTreeSet::new();
        let mut credential_ids = BTreeSet::new();
        let mut token_ids = BTreeSet::new();
        for data_source in data_sources {
            let asset = AssetRef {
                kind: AssetKind::DataSource,
                id: data_source.id,
            };
            closure.entries.push(ClosureEntry {
                asset,
                selected: selected.contains(&asset),
                dependencies: vec![],
            });
            for name in &data_source.template_properties {
                template_properties.insert(name.clone());
                if defined_variables.contains(name) {
                    variables.insert(name.clone());
                }
            }
            credential_ids.extend(data_source.definition.auth.credential_id());
            token_ids.extend(data_source.definition.auth.token_id());
        }
        for klip in klips {
            let asset = AssetRef {
                kind: AssetKind::Klip,
                id: klip.id,
            };
            let mut dependencies: Vec<AssetRef> = Vec::new();
            for id in klip.definition.bindings.iter().flatten() {
                let dependency = AssetRef {
                    kind: AssetKind::DataSource,
                    id: *id,
                };
                if !dependencies.contains(&dependency) {
                    dependencies.push(dependency);
                }
            }
            closure.entries.push(ClosureEntry {
                asset,
                selected: selected.contains(&asset),
                dependencies,
            });
            variables.extend(klip.variables.iter().cloned());
        }
        for dashboard in dashboards {
            let asset = AssetRef {
                kind: AssetKind::Dashboard,
                id: dashboard.id,
            };
            closure.entries.push(ClosureEntry {
                asset,
                selected: selected.contains(&asset),
                dependencies: dashboard
                    .definition
                    .klip_ids
                    .iter()
                    .map(|id| AssetRef {
                        kind: AssetKind::Klip,
                        id: *id,
                    })
                    .collect(),
            });
        }
        closure.variables = variables.into_iter().collect();
        closure.template_properties = template_properties.into_iter().collect();
        closure.credential_ids = credential_ids.into_iter().collect();
        closure.token_ids = token_ids.into_iter().collect();
        closure.missing = missing.into_iter().collect();
        closure
    }

    /// The assets of the closure.
    pub fn assets(&self) -> impl Iterator<Item = AssetRef> + '_ {
        self.entries.iter().map(|entry| entry.asset)
    }
}

#[cfg(test)]
mod tests;
