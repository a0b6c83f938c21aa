//! Loading a selection of assets and everything it reaches (I3), for closures and clones.

use diesel_async::AsyncPgConnection;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{dashboards, data_sources, klips};
use crate::domain::asset::Selection;
use crate::domain::closure::AssetGraph;

/// The account's assets in `selection` and every asset they reach, each locked against
/// changes until the transaction ends, so that a clone copies one consistent state.
pub async fn load(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    selection: &Selection,
) -> Result<AssetGraph, StoreError> {
    let mut graph = AssetGraph::default();
    for dashboard in dashboards::load_for_share(conn, account, &selection.dashboards).await? {
        graph.dashboards.insert(dashboard.id, dashboard);
    }
    let mut klip_ids = selection.klips.clone();
    klip_ids.extend(graph.klips_of_dashboards());
    for klip in klips::load_for_share(conn, account, &klip_ids).await? {
        graph.klips.insert(klip.id, klip);
    }
    let mut data_source_ids = selection.data_sources.clone();
    data_source_ids.extend(graph.data_sources_of_klips());
    for data_source in data_sources::load_for_share(conn, account, &data_source_ids).await? {
        graph.data_sources.insert(data_source.id, data_source);
    }
    Ok(graph)
}
