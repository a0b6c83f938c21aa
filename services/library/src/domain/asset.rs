//! Asset kinds and references: a dashboard, a Klip or a data source.

use std::collections::BTreeSet;

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssetKind {
    DataSource,
    Klip,
    Dashboard,
}

impl AssetKind {
    pub fn noun(self) -> &'static str {
        match self {
            AssetKind::DataSource => "data source",
            AssetKind::Klip => "Klip",
            AssetKind::Dashboard => "dashboard",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetRef {
    pub kind: AssetKind,
    pub id: Uuid,
}

/// Asset ids by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub dashboards: BTreeSet<Uuid>,
    pub klips: BTreeSet<Uuid>,
    pub data_sources: BTreeSet<Uuid>,
}

impl Selection {
    pub fn from_refs<'a>(refs: impl IntoIterator<Item = &'a AssetRef>) -> Self {
        let mut selection = Selection::default();
        for asset in refs {
            selection.insert(*asset);
        }
        selection
    }

    pub fn insert(&mut self, asset: AssetRef) {
        match asset.kind {
            AssetKind::Dashboard => self.dashboards.insert(asset.id),
            AssetKind::Klip => self.klips.insert(asset.id),
            AssetKind::DataSource => self.data_sources.insert(asset.id),
        };
    }

    pub fn contains(&self, asset: &AssetRef) -> bool {
        match asset.kind {
            AssetKind::Dashboard => self.dashboards.contains(&asset.id),
            AssetKind::Klip => self.klips.contains(&asset.id),
            AssetKind::DataSource => self.data_sources.contains(&asset.id),
        }
    }

    pub fn len(&self) -> usize {
        self.dashboards.len() + self.klips.len() + self.data_sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
