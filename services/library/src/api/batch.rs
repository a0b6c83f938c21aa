//! BatchGetAssets: many assets of any accounts in one call, for the import service's
//! instance statuses (I11). Service only.

use std::collections::{BTreeMap, BTreeSet};

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::ApiResult;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::closure::{asset_refs, ref_to_proto};
use crate::domain::asset::AssetKind;
use crate::store::{self, assets};

pub async fn batch_get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::BatchGetAssetsRequest,
) -> ApiResult<pb::BatchGetAssetsResponse> {
    caller.require_service()?;
    let refs = asset_refs("assets", &request.assets)?;
    let ids = |kind: AssetKind| -> Vec<Uuid> {
        refs.iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut conn = store::connect(pool).await?;
    let mut found: BTreeMap<AssetKind, BTreeMap<Uuid, assets::AssetSummary>> = BTreeMap::new();
    found.insert(
        AssetKind::Klip,
        assets::klips(&mut conn, &ids(AssetKind::Klip)).await?,
    );
    found.insert(
        AssetKind::DataSource,
        assets::data_sources(&mut conn, &ids(AssetKind::DataSource)).await?,
    );
    found.insert(
        AssetKind::Dashboard,
        assets::dashboards(&mut conn, &ids(AssetKind::Dashboard)).await?,
    );
    let mut response = pb::BatchGetAssetsResponse::default();
    let mut seen = BTreeSet::new();
    for asset in refs {
        if !seen.insert(asset) {
            continue;
        }
        match found
            .get(&asset.kind)
            .and_then(|by_id| by_id.get(&asset.id))
        {
            Some(summary) => response.assets.push(pb::BatchAsset {
                asset: Some(ref_to_proto(asset)),
                account_id: summary.account_id.to_string(),
                version: summary.version,
                fingerprint: summary.fingerprint.clone(),
                data_source_ids: summary
                    .data_source_ids
                    .iter()
                    .map(Uuid::to_string)
                    .collect(),
            }),
            None => response.missing.push(ref_to_proto(asset)),
        }
    }
    Ok(response)
}
