//! BatchGetAssets: many assets of any accounts in one call, for the import service's
//! instance statuses (I11). Service only.

use std::collections::BTreeSet;

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::ApiResult;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::closure::{asset_refs, ref_to_proto};

pub async fn batch_get(
    pool: &DbPool,
    caller: &Caller,
    request: pb::BatchGetAssetsRequest,
) -> ApiResult<pb::BatchGetAssetsResponse> {
    caller.require_service()?;
    let refs = asset_refs("assets", &request.assets)?;
    let found = crate::app::assets::summaries(pool, caller, &refs).await?;
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
