//! Resources as stored: a definition plus what the library derives and keeps about it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use trellis_platform::etag::etag;

use super::account::AccountKind;
use super::dashboard::DashboardDefinition;
use super::data_source::DataSourceDefinition;
use super::klip::KlipDefinition;

/// What every stored resource tells about itself: its name in messages and its etag.
pub trait Stored {
    /// The resource's name when it is not found ("dashboard", "Klip").
    const KIND: &'static str;
    /// Its name when it changed under the caller's etag.
    const CHANGED: &'static str = Self::KIND;

    fn etag(&self) -> String;
}

/// Each resource's etag: its key (id or name), the revision (or version) and the creation
/// time, so that one deleted and created again under the same name has another.
macro_rules! stored {
    ($($type:ident: $kind:literal $(/ $changed:literal)?, $key:ident, $revision:ident;)*) => {
        $(impl Stored for $type {
            const KIND: &'static str = $kind;
            $(const CHANGED: &'static str = $changed;)?

            fn etag(&self) -> String {
                etag(&self.$key.to_string(), self.$revision, self.created_at)
            }
        })*
    };
}

stored! {
    Account: "account", id, revision;
    CompanyProperty: "company property" / "property", name, revision;
    Variable: "variable", name, revision;
    DataSource: "data source", id, version;
    Klip: "Klip", id, version;
    Dashboard: "dashboard", id, version;
    Embed: "embed", id, revision;
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub kind: AccountKind,
    pub parent_id: Option<Uuid>,
    pub display_name: String,
    /// The IANA time zone its `{date.…}` expressions resolve in.
    pub time_zone: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub id: Uuid,
    pub account_id: Uuid,
    pub definition: DashboardDefinition,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
