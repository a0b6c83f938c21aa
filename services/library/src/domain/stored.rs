//! Resources as stored: a definition plus what the library derives and keeps about it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account::AccountKind;
use super::dashboard::DashboardDefinition;
use super::data_source::DataSourceDefinition;
use super::etag::etag;
use super::klip::KlipDefinition;

#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub kind: AccountKind,
    pub parent_id: Option<Uuid>,
    pub display_name: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    pub fn etag(&self) -> String {
        etag(&self.id.to_string(), self.revision, self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct CompanyProperty {
    pub account_id: Uuid,
    pub name: String,
    pub value: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CompanyProperty {
    pub fn etag(&self) -> String {
        etag(&self.name, self.revision, self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub account_id: Uuid,
    pub name: String,
    pub default_value: String,
    pub description: String,
    /// The values a user may choose; empty means any (I13).
    pub allowed_values: Vec<String>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Variable {
    pub fn etag(&self) -> String {
        etag(&self.name, self.revision, self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct UserVariableValue {
    pub account_id: Uuid,
    pub user_id: String,
    pub name: String,
    pub value: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct DataSource {
    pub id: Uuid,
    pub account_id: Uuid,
    pub definition: DataSourceDefinition,
    pub template_properties: Vec<String>,
    pub version: i64,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DataSource {
    pub fn etag(&self) -> String {
        etag(&self.id.to_string(), self.version, self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct Klip {
    pub id: Uuid,
    pub account_id: Uuid,
    pub definition: KlipDefinition,
    pub variables: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Klip {
    pub fn etag(&self) -> String {
        etag(&self.id.to_string(), self.version, self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub id: Uuid,
    pub account_id: Uuid,
    pub definition: DashboardDefinition,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Dashboard {
    pub fn etag(&self) -> String {
        etag(&self.id.to_string(), self.version, self.created_at)
    }
}

/// A published view of one Klip (F6). Ids are random, so `seq` gives the creation order.
#[derive(Debug, Clone)]
pub struct Embed {
    pub id: String,
    pub account_id: Uuid,
    pub klip_id: Uuid,
    pub stale_while_revalidate: bool,
    /// `None`: the service's default (`TRELLIS_EMBED_MAX_AGE`).
    pub max_age: Option<std::time::Duration>,
    pub seq: i64,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
}

impl Embed {
    pub fn etag(&self) -> String {
        etag(&self.id, self.revision, self.created_at)
    }
}
