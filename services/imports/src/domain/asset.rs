//! Assets as this service names them: a dashboard, a Klip or a data source of the library.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

trellis_platform::text_enum! {
    /// Declared dependencies first: data sources, then Klips, then dashboards (the order
    /// compensation deletes in reverse). Stored as `instance_links.kind` and, in JSON
    /// columns, as the same text.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum AssetKind {
        DataSource = "data_source",
        Klip = "klip",
        Dashboard = "dashboard",
    }
}

impl AssetKind {
    pub fn noun(self) -> &'static str {
        match self {
            AssetKind::DataSource => "data source",
            AssetKind::Klip => "Klip",
            AssetKind::Dashboard => "dashboard",
        }
    }

    /// The resource collection, for subjects such as `klips/<id>`.
    pub fn collection(self) -> &'static str {
        match self {
            AssetKind::DataSource => "data_sources",
            AssetKind::Klip => "klips",
            AssetKind::Dashboard => "dashboards",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssetRef {
    pub kind: AssetKind,
    pub id: Uuid,
}

impl AssetRef {
    pub fn new(kind: AssetKind, id: Uuid) -> Self {
        Self { kind, id }
    }

    /// `klips/<id>`, the subject of a precondition violation.
    pub fn subject(&self) -> String {
        format!("{}/{}", self.kind.collection(), self.id)
    }
}
