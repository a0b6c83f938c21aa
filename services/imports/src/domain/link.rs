//! Master → instance links (I7, I11) and the Klip definitions they remember.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::asset::{AssetKind, AssetRef};

/// A master data source behind a Klip instance's bindings: its instance in the Klip's
/// account and the master's fingerprint when they were last synced (I10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundSource {
    pub instance_id: Uuid,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub formula: String,
}

/// What a Klip is made of: name, components and bindings (`None`: a dangling binding).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KlipDefinition {
    pub name: String,
    pub components: Vec<Component>,
    pub bindings: Vec<Option<Uuid>>,
}

impl KlipDefinition {
    /// The bound data sources, each once, in binding order.
    pub fn bound(&self) -> Vec<Uuid> {
        let mut bound: Vec<Uuid> = Vec::new();
        for id in self.bindings.iter().flatten() {
            if !bound.contains(id) {
                bound.push(*id);
            }
        }
        bound
    }

    /// The master's definition with its bindings rewritten to the instance's data sources
    /// (I9). `Err` lists the master data sources the instance has no instance of (I10).
    pub fn mapped(&self, sources: &BTreeMap<Uuid, BoundSource>) -> Result<Self, Vec<Uuid>> {
        let mut missing = Vec::new();
        let bindings = self
            .bindings
            .iter()
            .map(|binding| {
                binding.and_then(|master| match sources.get(&master) {
                    Some(bound) => Some(bound.instance_id),
                    None => {
                        if !missing.contains(&master) {
                            missing.push(master);
                        }
                        None
                    }
                })
            })
            .collect();
        if missing.is_empty() {
            Ok(Self {
                bindings,
                ..self.clone()
            })
        } else {
            Err(missing)
        }
    }
}

/// One master → instance link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub instance: AssetRef,
    pub account_id: Uuid,
    pub master_id: Uuid,
    pub master_account_id: Uuid,
    /// The import that made or last re-imported the instance.
    pub import_id: Uuid,
    pub import_time: DateTime<Utc>,
    pub master_version_at_import: i64,
    /// The master's version when the instance was last synced (import, update, re-import).
    pub master_version_synced: i64,
    /// Data sources: the master's fingerprint at the last sync (I10).
    pub master_fingerprint: String,
    /// The instance's version right after the last sync; a higher one is a local edit.
    pub instance_version_synced: i64,
    /// Klips: the master data sources behind the bindings.
    pub data_sources: BTreeMap<Uuid, BoundSource>,
    /// Dashboards: master Klip → the instance Klip imported with the dashboard.
    pub klips: BTreeMap<Uuid, Uuid>,
    /// Klips: the definition the instance was given at the last sync, to tell local edits
    /// from master changes in a drift report.
    pub synced_definition: Option<KlipDefinition>,
    /// Data sources: the token grant (I6) or credential copy (I5) made for the instance.
    pub token_grant_id: Option<Uuid>,
    pub credential_copy_id: Option<Uuid>,
    pub last_update_time: Option<DateTime<Utc>>,
}

impl Link {
    pub fn kind(&self) -> AssetKind {
        self.instance.kind
    }

    pub fn master(&self) -> AssetRef {
        AssetRef::new(self.instance.kind, self.master_id)
    }
}
