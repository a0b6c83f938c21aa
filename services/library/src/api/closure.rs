//! GetDependencyClosure (I3, I4): a selection and every asset it reaches.

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiResult, Violations};
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::closure::{AssetGraph, ClosureEntry};

pub const MAX_ASSETS: usize = 1000;

/// Asset references from the wire; every one must name a kind and a UUID.
pub fn asset_refs(field: &str, refs: &[pb::AssetRef]) -> ApiResult<Vec<AssetRef>> {
    let mut violations = Violations::new();
    if refs.len() > MAX_ASSETS {
        violations.add(field, format!("at most {MAX_ASSETS} assets are allowed"));
    }
    let parsed = refs
        .iter()
        .enumerate()
        .filter_map(|(i, asset)| {
            let kind = match pb::AssetKind::try_from(asset.kind) {
                Ok(pb::AssetKind::Dashboard) => Some(AssetKind::Dashboard),
                Ok(pb::AssetKind::Klip) => Some(AssetKind::Klip),
                Ok(pb::AssetKind::DataSource) => Some(AssetKind::DataSource),
                _ => {
                    violations.add(
                        format!("{field}[{i}].kind"),
                        "must be a dashboard, a Klip or a data source",
                    );
                    None
                }
            };
            let id = Uuid::parse_str(&asset.id)
                .map_err(|_| violations.add(format!("{field}[{i}].id"), "must be a UUID"))
                .ok();
            Some(AssetRef {
                kind: kind?,
                id: id?,
            })
        })
        .collect();
    violations.into_result()?;
    Ok(parsed)
}

pub fn kind_to_proto(kind: AssetKind) -> pb::AssetKind {
    match kind {
        AssetKind::Dashboard => pb::AssetKind::Dashboard,
        AssetKind::Klip => pb::AssetKind::Klip,
        AssetKind::DataSource => pb::AssetKind::DataSource,
    }
}

pub fn ref_to_proto(asset: AssetRef) -> pb::AssetRef {
    pb::AssetRef {
        kind: kind_to_proto(asset.kind) as i32,
        id: asset.id.to_string(),
    }
}

pub async fn get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::GetDependencyClosureRequest,
) -> ApiResult<pb::GetDependencyClosureResponse> {
    let refs = asset_refs("assets", &request.assets)?;
    let (closure, graph) =
        crate::app::assets::closure(pool, caller, &request.account_id, &refs).await?;
    Ok(pb::GetDependencyClosureResponse {
        assets: closure
            .entries
            .iter()
            .map(|entry| closure_asset(entry, &graph))
            .collect(),
        variables: closure.variables,
        credential_ids: closure.credential_ids.iter().map(Uuid::to_string).collect(),
        token_ids: closure.token_ids.iter().map(Uuid::to_string).collect(),
        template_properties: closure.template_properties,
        missing_assets: closure
            .missing
            .iter()
            .map(|missing| pb::AssetRef {
                kind: kind_to_proto(missing.kind) as i32,
                id: missing.id.map(|id| id.to_string()).unwrap_or_default(),
            })
            .collect(),
    })
}

fn closure_asset(entry: &ClosureEntry, graph: &AssetGraph) -> pb::ClosureAsset {
    let mut asset = pb::ClosureAsset {
        asset: Some(ref_to_proto(entry.asset)),
        selected: entry.selected,
        dependencies: entry
            .dependencies
            .iter()
            .copied()
            .map(ref_to_proto)
            .collect(),
        ..Default::default()
    };
    let id = entry.asset.id;
    match entry.asset.kind {
        AssetKind::DataSource => {
            let found = &graph.data_sources[&id];
            asset.name = found.definition.name.clone();
            asset.version = found.version;
            asset.fingerprint = found.fingerprint.clone();
            asset.template_properties = found.template_properties.clone();
            let auth = found.definition.auth;
            asset.credential_id = auth
                .credential_id()
                .map(|i| i.to_string())
                .unwrap_or_default();
            asset.token_id = auth.token_id().map(|i| i.to_string()).unwrap_or_default();
        }
        AssetKind::Klip => {
            let found = &graph.klips[&id];
            asset.name = found.definition.name.clone();
            asset.version = found.version;
            asset.variables = found.variables.clone();
        }
        AssetKind::Dashboard => {
            let found = &graph.dashboards[&id];
            asset.name = found.definition.name.clone();
            asset.version = found.version;
        }
    }
    asset
}
