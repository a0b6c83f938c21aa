//! Imports: one saga each (DESIGN.md section 2), its kind and the step it reached.

use chrono::{DateTime, Utc};
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::spec::{ImportProgress, ImportSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Plan,
    ReimportInPlace,
    ReimportNewCopy,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Plan => "plan",
            ImportKind::ReimportInPlace => "reimport_in_place",
            ImportKind::ReimportNewCopy => "reimport_new_copy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "plan" => Some(ImportKind::Plan),
            "reimport_in_place" => Some(ImportKind::ReimportInPlace),
            "reimport_new_copy" => Some(ImportKind::ReimportNewCopy),
            _ => None,
        }
    }

    pub fn to_proto(self) -> pb::ImportKind {
        match self {
            ImportKind::Plan => pb::ImportKind::Plan,
            ImportKind::ReimportInPlace => pb::ImportKind::ReimportInPlace,
            ImportKind::ReimportNewCopy => pb::ImportKind::ReimportNewCopy,
        }
    }
}

/// The saga's steps, in order; the last three end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    Pending,
    Cloning,
    Granting,
    Linking,
    Succeeded,
    Compensating,
    Compensated,
    Failed,
}

impl ImportState {
    pub const UNFINISHED: [ImportState; 5] = [
        ImportState::Pending,
        ImportState::Cloning,
        ImportState::Granting,
        ImportState::Linking,
        ImportState::Compensating,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Pending => "pending",
            ImportState::Cloning => "cloning",
            ImportState::Granting => "granting",
            ImportState::Linking => "linking",
            ImportState::Succeeded => "succeeded",
            ImportState::Compensating => "compensating",
            ImportState::Compensated => "compensated",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => ImportState::Pending,
            "cloning" => ImportState::Cloning,
            "granting" => ImportState::Granting,
            "linking" => ImportState::Linking,
            "succeeded" => ImportState::Succeeded,
            "compensating" => ImportState::Compensating,
            "compensated" => ImportState::Compensated,
            "failed" => ImportState::Failed,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ImportState::Succeeded | ImportState::Compensated | ImportState::Failed
        )
    }

    pub fn to_proto(self) -> pb::ImportState {
        match self {
            ImportState::Pending => pb::ImportState::Pending,
            ImportState::Cloning => pb::ImportState::Cloning,
            ImportState::Granting => pb::ImportState::Granting,
            ImportState::Linking => pb::ImportState::Linking,
            ImportState::Succeeded => pb::ImportState::Succeeded,
            ImportState::Compensating => pb::ImportState::Compensating,
            ImportState::Compensated => pb::ImportState::Compensated,
            ImportState::Failed => pb::ImportState::Failed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Import {
    pub id: Uuid,
    pub kind: ImportKind,
    pub plan_id: Option<Uuid>,
    pub destination_account_id: Uuid,
    pub source_account_id: Uuid,
    pub state: ImportState,
    pub spec: ImportSpec,
    pub progress: ImportProgress,
    pub error: String,
    pub attempts: i32,
    pub next_attempt_time: DateTime<Utc>,
    pub creator_user_id: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
}
