//! This service's records on the wire.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use crate::domain::asset::AssetRef;
use crate::domain::import::{Import, ImportKind};
use crate::observe::Observed;
use crate::store::plans::Plan;

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
            .map(AssetRef::to_proto)
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
            _ => import.spec.replaced.map(AssetRef::to_proto),
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
