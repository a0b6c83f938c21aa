//! This service's records on the wire: the domain's values as `trellis.imports.v1`
//! messages and enums, and the few read back from requests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use trellis_platform::error::{ApiError, ApiResult};
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use crate::app::delete::Deleted;
use crate::app::observe::Observed;
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::drift::{Change, ChangeKind};
use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::plan::{Plan, Warning, WarningKind};
use crate::domain::status::{Reason, ReasonKind, Status};

/// A domain value as this service's API writes it.
pub trait ToProto {
    type Proto;
    fn to_proto(&self) -> Self::Proto;
}

/// A request's asset kind; `None` for UNSPECIFIED or an unknown value.
pub fn asset_kind(value: i32) -> Option<AssetKind> {
    match pb::AssetKind::try_from(value).ok()? {
        pb::AssetKind::DataSource => Some(AssetKind::DataSource),
        pb::AssetKind::Klip => Some(AssetKind::Klip),
        pb::AssetKind::Dashboard => Some(AssetKind::Dashboard),
        pb::AssetKind::Unspecified => None,
    }
}

impl ToProto for AssetKind {
    type Proto = pb::AssetKind;
    fn to_proto(&self) -> pb::AssetKind {
        match self {
            AssetKind::DataSource => pb::AssetKind::DataSource,
            AssetKind::Klip => pb::AssetKind::Klip,
            AssetKind::Dashboard => pb::AssetKind::Dashboard,
        }
    }
}

impl ToProto for AssetRef {
    type Proto = pb::AssetRef;
    fn to_proto(&self) -> pb::AssetRef {
        pb::AssetRef {
            kind: self.kind.to_proto() as i32,
            id: self.id.to_string(),
        }
    }
}

impl ToProto for ImportKind {
    type Proto = pb::ImportKind;
    fn to_proto(&self) -> pb::ImportKind {
        match self {
            ImportKind::Plan => pb::ImportKind::Plan,
            ImportKind::ReimportInPlace => pb::ImportKind::ReimportInPlace,
            ImportKind::ReimportNewCopy => pb::ImportKind::ReimportNewCopy,
        }
    }
}

impl ToProto for ImportState {
    type Proto = pb::ImportState;
    fn to_proto(&self) -> pb::ImportState {
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

impl ToProto for Change {
    type Proto = pb::InstanceChange;
    fn to_proto(&self) -> pb::InstanceChange {
        let kind = match self.kind {
            ChangeKind::Name => pb::ChangeKind::Name,
            ChangeKind::ComponentAdded => pb::ChangeKind::ComponentAdded,
            ChangeKind::ComponentRemoved => pb::ChangeKind::ComponentRemoved,
            ChangeKind::Formula => pb::ChangeKind::Formula,
            ChangeKind::Bindings => pb::ChangeKind::Bindings,
            ChangeKind::DataSource => pb::ChangeKind::DataSource,
        };
        pb::InstanceChange {
            kind: kind as i32,
            subject: self.subject.clone(),
            instance_value: self.instance_value.clone(),
            master_value: self.master_value.clone(),
            local_edit: self.local_edit,
        }
    }
}

impl ToProto for Warning {
    type Proto = pb::PlanWarning;
    fn to_proto(&self) -> pb::PlanWarning {
        let kind = match self.kind {
            WarningKind::UnresolvedProperty => pb::PlanWarningKind::UnresolvedProperty,
            WarningKind::CredentialCopied => pb::PlanWarningKind::CredentialCopied,
            WarningKind::TokenShared => pb::PlanWarningKind::TokenShared,
            WarningKind::FamilyForbidden => pb::PlanWarningKind::FamilyForbidden,
            WarningKind::AlreadyImported => pb::PlanWarningKind::AlreadyImported,
            WarningKind::VariableExists => pb::PlanWarningKind::VariableExists,
            WarningKind::TokenNeedsReauthorization => {
                pb::PlanWarningKind::TokenNeedsReauthorization
            }
            WarningKind::MissingDependency => pb::PlanWarningKind::MissingDependency,
        };
        pb::PlanWarning {
            kind: kind as i32,
            message: self.message.clone(),
            subject_id: self.subject_id.clone(),
            blocking: self.blocking,
        }
    }
}

impl ToProto for Status {
    type Proto = pb::InstanceStatus;
    fn to_proto(&self) -> pb::InstanceStatus {
        match self {
            Status::RequiresReimport => pb::InstanceStatus::RequiresReimport,
            Status::Drift => pb::InstanceStatus::Drift,
            Status::Outdated => pb::InstanceStatus::Outdated,
            Status::InSync => pb::InstanceStatus::InSync,
            Status::Missing => pb::InstanceStatus::Missing,
        }
    }
}

impl ToProto for Reason {
    type Proto = pb::StatusReason;
    fn to_proto(&self) -> pb::StatusReason {
        let kind = match self.kind {
            ReasonKind::MasterChanged => pb::StatusReasonKind::MasterChanged,
            ReasonKind::LocalEdit => pb::StatusReasonKind::LocalEdit,
            ReasonKind::DataSourceChanged => pb::StatusReasonKind::DataSourceChanged,
            ReasonKind::DataSourceAdded => pb::StatusReasonKind::DataSourceAdded,
            ReasonKind::InstanceDeleted => pb::StatusReasonKind::InstanceDeleted,
        };
        pb::StatusReason {
            kind: kind as i32,
            message: self.message.clone(),
            subject: self.subject.as_ref().map(AssetRef::to_proto),
        }
    }
}

pub fn timestamp(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    })
}

pub fn plan(
    plan: &Plan,
    existing: &BTreeMap<AssetRef, Vec<Uuid>>,
    now: DateTime<Utc>,
) -> pb::ImportPlan {
    let state = if plan.import_id.is_some() {
        pb::PlanState::Executed
    } else if now > plan.expire_time {
        pb::PlanState::Expired
    } else {
        pb::PlanState::Open
    };
    pb::ImportPlan {
        id: plan.id.to_string(),
        etag: plan.etag.clone(),
        destination_account_id: plan.destination_account_id.to_string(),
        source_account_id: plan.source_account_id.to_string(),
        selection: plan
            .selection
            .iter()
            .copied()
            .map(|asset| asset.to_proto())
            .collect(),
        items: plan
            .spec
            .assets
            .iter()
            .map(|asset| pb::PlanItem {
                asset: Some(asset.asset().to_proto()),
                name: asset.name.clone(),
                selected: asset.selected,
                version: asset.version,
                fingerprint: asset.fingerprint.clone(),
                existing_instance_ids: existing
                    .get(&asset.asset())
                    .map(|ids| ids.iter().map(Uuid::to_string).collect())
                    .unwrap_or_default(),
                credential_id: asset
                    .credential_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                token_id: asset.token_id.map(|id| id.to_string()).unwrap_or_default(),
            })
            .collect(),
        variables: plan.variables.clone(),
        warnings: plan.warnings.iter().map(|w| w.to_proto()).collect(),
        state: state as i32,
        import_id: plan.import_id.map(|id| id.to_string()).unwrap_or_default(),
        create_time: timestamp(plan.create_time),
        expire_time: timestamp(plan.expire_time),
    }
}

pub fn import(import: &Import) -> pb::Import {
    let progress = &import.progress;
    pb::Import {
        id: import.id.to_string(),
        kind: import.kind.to_proto() as i32,
        plan_id: import.plan_id.map(|id| id.to_string()).unwrap_or_default(),
        destination_account_id: import.destination_account_id.to_string(),
        source_account_id: import.source_account_id.to_string(),
        state: import.state.to_proto() as i32,
        mappings: progress
            .mappings
            .iter()
            .map(|m| pb::IdMapping {
                kind: m.kind.to_proto() as i32,
                source_id: m.source_id.to_string(),
                destination_id: m.destination_id.to_string(),
            })
            .collect(),
        variables_created: progress.variables_created.clone(),
        credential_copies: progress
            .credential_copies
            .iter()
            .map(|c| pb::CredentialCopy {
                source_credential_id: c.source_credential_id.to_string(),
                destination_credential_id: c.destination_credential_id.to_string(),
                data_source_id: c.data_source_id.to_string(),
            })
            .collect(),
        token_grant_ids: progress
            .token_grants
            .iter()
            .map(|g| g.grant_id.to_string())
            .collect(),
        replaced_instance: match import.kind {
            ImportKind::Plan => None,
            _ => import.spec.replaced.as_ref().map(AssetRef::to_proto),
        },
        error: import.error.clone(),
        creator_user_id: import.creator_user_id.clone(),
        create_time: timestamp(import.create_time),
        update_time: timestamp(import.update_time),
        end_time: import.end_time.and_then(timestamp),
    }
}

pub fn instance(observed: &Observed) -> pb::Instance {
    let link = &observed.link;
    pb::Instance {
        master: Some(link.master().to_proto()),
        master_account_id: link.master_account_id.to_string(),
        instance_id: link.instance.id.to_string(),
        account_id: link.account_id.to_string(),
        import_id: link.import_id.to_string(),
        import_time: timestamp(link.import_time),
        master_version_at_import: link.master_version_at_import,
        master_version_synced: link.master_version_synced,
        master_version: observed.master_version,
        last_update_time: link.last_update_time.and_then(timestamp),
        status: observed.evaluation.status.to_proto() as i32,
        reasons: observed
            .evaluation
            .reasons
            .iter()
            .map(|r| r.to_proto())
            .collect(),
    }
}

/// The answer remembered for a request that started an import (ExecuteImportPlan and
/// ReimportInstance alike): its id, which a retry finishes and reads again.
pub fn started(import: &Import) -> pb::ExecuteImportPlanResponse {
    pb::ExecuteImportPlanResponse {
        import: Some(pb::Import {
            id: import.id.to_string(),
            ..Default::default()
        }),
    }
}

/// The import a [`started`] answer names.
pub fn started_id(started: &pb::ExecuteImportPlanResponse) -> ApiResult<Uuid> {
    let id = started
        .import
        .as_ref()
        .map(|i| i.id.as_str())
        .unwrap_or_default();
    Uuid::parse_str(id).map_err(ApiError::internal)
}

pub fn deleted(deleted: &[Deleted]) -> pb::DeleteInstancesResponse {
    pb::DeleteInstancesResponse {
        deleted_instances: deleted
            .iter()
            .map(|d| pb::DeletedInstance {
                instance: Some(d.asset.to_proto()),
                account_id: d.account.to_string(),
            })
            .collect(),
    }
}
