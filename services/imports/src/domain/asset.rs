//! Assets as this service names them: a dashboard, a Klip or a data source of the library.

use serde::{Deserialize, Serialize};
use trellis_proto::imports::v1 as pb;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    DataSource,
    Klip,
    Dashboard,
}

impl AssetKind {
    /// The stored name (`instance_links.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::DataSource => "data_source",
            AssetKind::Klip => "klip",
            AssetKind::Dashboard => "dashboard",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "data_source" => Some(AssetKind::DataSource),
            "klip" => Some(AssetKind::Klip),
            "dashboard" => Some(AssetKind::Dashboard),
            _ => None,
        }
    }

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

    pub fn from_proto(value: i32) -> Option<Self> {
        match pb::AssetKind::try_from(value).ok()? {
            pb::AssetKind::DataSource => Some(AssetKind::DataSource),
            pb::AssetKind::Klip => Some(AssetKind::Klip),
            pb::AssetKind::Dashboard => Some(AssetKind::Dashboard),
            pb::AssetKind::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> pb::AssetKind {
        match self {
            AssetKind::DataSource => pb::AssetKind::DataSource,
            AssetKind::Klip => pb::AssetKind::Klip,
            AssetKind::Dashboard => pb::AssetKind::Dashboard,
        }
    }

    pub fn from_library(value: i32) -> Option<Self> {
        match library::AssetKind::try_from(value).ok()? {
            library::AssetKind::DataSource => Some(AssetKind::DataSource),
            library::AssetKind::Klip => Some(AssetKind::Klip),
            library::AssetKind::Dashboard => Some(AssetKind::Dashboard),
            library::AssetKind::Unspecified => None,
        }
    }

    pub fn to_library(self) -> library::AssetKind {
        match self {
            AssetKind::DataSource => library::AssetKind::DataSource,
            AssetKind::Klip => library::AssetKind::Klip,
            AssetKind::Dashboard => library::AssetKind::Dashboard,
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

    pub fn to_proto(self) -> pb::AssetRef {
        pb::AssetRef {
            kind: self.kind.to_proto() as i32,
            id: self.id.to_string(),
        }
    }

    pub fn to_library(self) -> library::AssetRef {
        library::AssetRef {
            kind: self.kind.to_library() as i32,
            id: self.id.to_string(),
        }
    }

    /// A library reference; `None` when it names no known kind or no UUID.
    pub fn from_library(asset: &library::AssetRef) -> Option<Self> {
        Some(Self {
            kind: AssetKind::from_library(asset.kind)?,
            id: Uuid::parse_str(&asset.id).ok()?,
        })
    }
}
