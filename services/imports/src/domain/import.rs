//! Imports: one saga each (DESIGN.md section 2), its kind and the step it reached.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::spec::{ImportProgress, ImportSpec};

trellis_platform::text_enum! {
    /// Stored as `imports.kind`.
    pub enum ImportKind {
        Plan = "plan",
        ReimportInPlace = "reimport_in_place",
        ReimportNewCopy = "reimport_new_copy",
    }
}

trellis_platform::text_enum! {
    /// The saga's steps, in order; the last three end it. Stored as `imports.state`.
    pub enum ImportState {
        Pending = "pending",
        Cloning = "cloning",
        Granting = "granting",
        Linking = "linking",
        Succeeded = "succeeded",
        Compensating = "compensating",
        Compensated = "compensated",
        Failed = "failed",
    }
}

impl ImportState {
    pub const UNFINISHED: [ImportState; 5] = [
        ImportState::Pending,
        ImportState::Cloning,
        ImportState::Granting,
        ImportState::Linking,
        ImportState::Compensating,
    ];

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ImportState::Succeeded | ImportState::Compensated | ImportState::Failed
        )
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

/// How long the recovery loop leaves a new import to the call that made it.
pub const FIRST_ATTEMPT_GRACE: chrono::Duration = chrono::Duration::seconds(60);

impl Import {
    /// A new import of `spec` from `source` into `destination`, not begun yet.
    pub fn pending(
        kind: ImportKind,
        plan_id: Option<Uuid>,
        (source, destination): (Uuid, Uuid),
        spec: ImportSpec,
        creator: &str,
    ) -> Self {
        let created = Utc::now();
        Import {
            id: Uuid::now_v7(),
            kind,
            plan_id,
            destination_account_id: destination,
            source_account_id: source,
            state: ImportState::Pending,
            spec,
            progress: ImportProgress::default(),
            error: String::new(),
            attempts: 0,
            next_attempt_time: created + FIRST_ATTEMPT_GRACE,
            creator_user_id: creator.to_owned(),
            create_time: created,
            update_time: created,
            end_time: None,
        }
    }
}
