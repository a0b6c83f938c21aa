//! Reads across the asset tables: the dependency closure of a selection (I3, I4) and the
//! summaries the import service reads of many assets at once (I11).

use std::collections::{BTreeMap, BTreeSet};

use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::ApiResult;
use uuid::Uuid;

use super::access;
use crate::domain::asset::{AssetKind, AssetRef, Selection};
use crate::domain::closure::{AssetGraph, Closure};
use crate::store::assets::{self, AssetSummary};
use crate::store::{graph, variables};

/// The closure of `refs` in the account the caller reads, with the graph it was computed
/// over (for the names and versions of what it lists).
pub async fn closure(
    pool: &DbPool,
    caller: &Caller,
    requested: &str,
    refs: &[AssetRef],
) -> ApiResult<(Closure, AssetGraph)> {
    let (mut conn, account) = access::reading(pool, caller, requested).await?;
    let selection = Selection::from_refs(refs);
    let graph = graph::load(&mut conn, account, &selection).await?;
    let defined: BTreeSet<String> = variables::defaults(&mut conn, account)
        .await?
        .into_keys()
        .collect();
    Ok((Closure::compute(&selection, &graph, &defined), graph))
}

/// The summaries of the assets `refs` names that exist, in any account, by kind and id.
/// Service only.
pub async fn summaries(
    pool: &DbPool,
    caller: &Caller,
    refs: &[AssetRef],
) -> ApiResult<BTreeMap<AssetKind, BTreeMap<Uuid, AssetSummary>>> {
    caller.require_service()?;
    let ids = |kind: AssetKind| -> Vec<Uuid> {
        refs.iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut conn = trellis_platform::db::connect(pool).await?;
    Ok(BTreeMap::from([
        (
            AssetKind::Klip,
            assets::klips(&mut conn, &ids(AssetKind::Klip)).await?,
        ),
        (
            AssetKind::DataSource,
            assets::data_sources(&mut conn, &ids(AssetKind::DataSource)).await?,
        ),
        (
            AssetKind::Dashboard,
            assets::dashboards(&mut conn, &ids(AssetKind::Dashboard)).await?,
        ),
    ]))
}
