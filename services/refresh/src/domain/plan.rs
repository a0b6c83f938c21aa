//! What a delivery remembers between its steps, as stored JSON: the Klips it reports and
//! the data sources refreshed for it (the plan), and which data was stale when it was sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Made when a delivery is prepared: its Klips, in report order, and their data sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportPlan {
    pub klips: Vec<PlannedKlip>,
    /// Klips of the target that no longer exist; the report says so.
    #[serde(default)]
    pub missing_klips: Vec<Uuid>,
    pub data_sources: Vec<PlannedSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedKlip {
    pub id: Uuid,
    pub name: String,
}

/// One data source bound by the report's Klips, resolved for the schedule's account and
/// user (I13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSource {
    pub data_source_id: Uuid,
    pub name: String,
    /// The instance the report renders; empty when the data source could not be resolved.
    pub instance_key: String,
    /// The refresh job queued (or already waiting) for it.
    pub job_id: Option<Uuid>,
    /// Why it was not queued: it no longer exists, has unresolved properties, or is disabled.
    pub problem: Option<String>,
}

/// A data source whose data was not refreshed for a send (F7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleSource {
    pub data_source_id: Uuid,
    pub instance_key: String,
    /// When the data the report used was fetched; `None` when there was none.
    pub fetch_time: Option<DateTime<Utc>>,
    pub reason: String,
}

impl ReportPlan {
    pub fn from_json(value: Option<&serde_json::Value>) -> ReportPlan {
        value
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub fn stale_from_json(value: &serde_json::Value) -> Vec<StaleSource> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

pub fn stale_to_json(stale: &[StaleSource]) -> serde_json::Value {
    serde_json::to_value(stale).unwrap_or_default()
}
