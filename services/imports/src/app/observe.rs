//! Instance statuses (I11): the links, the masters and the instances as the library holds
//! them now, evaluated by `domain::status`.

use std::collections::BTreeMap;

use tonic::Status;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::link::Link;
use crate::domain::status::{Evaluation, MasterState, evaluate};
use crate::peers::Peers;
use crate::peers::convert;

/// A link with its status now.
#[derive(Debug, Clone)]
pub struct Observed {
    pub link: Link,
    pub evaluation: Evaluation,
    /// The master's current version; 0 when it was deleted.
    pub master_version: i64,
}

/// A master as it is now, with the whole Klip when it is one (updates need it).
#[derive(Debug, Clone)]
pub struct Master {
    pub state: MasterState,
    pub klip: Option<library::Klip>,
    /// Klips: the data sources it binds, by id.
    pub data_sources: BTreeMap<Uuid, library::DataSource>,
}

/// Reads a master; `None` when it no longer exists.
pub async fn master(
    peers: &Peers,
    account: Uuid,
    asset: AssetRef,
) -> Result<Option<Master>, Status> {
    let mut master = Master {
        state: MasterState::default(),
        klip: None,
        data_sources: BTreeMap::new(),
    };
    match asset.kind {
        AssetKind::Klip => {
            let Some(klip) = peers.klip(account, asset.id).await? else {
                return Ok(None);
            };
            master.state.version = klip.version;
            master.state.bound = convert::klip_definition(&klip).bound();
            for source in &master.state.bound {
                if let Some(found) = peers.data_source(account, *source).await? {
                    master
                        .state
                        .source_fingerprints
                        .insert(*source, found.fingerprint.clone());
                    master.data_sources.insert(*source, found);
                }
            }
            master.klip = Some(klip);
        }
        AssetKind::DataSource => {
            let Some(found) = peers.data_source(account, asset.id).await? else {
                return Ok(None);
            };
            master.state.version = found.version;
            master.state.fingerprint = found.fingerprint.clone();
        }
        AssetKind::Dashboard => {
            let Some(found) = peers.dashboard(account, asset.id).await? else {
                return Ok(None);
            };
            master.state.version = found.version;
        }
    }
    Ok(Some(master))
}

/// The statuses of `links`, in their order. Each master is read once.
pub async fn observe(peers: &Peers, links: Vec<Link>) -> Result<Vec<Observed>, Status> {
    let mut masters: BTreeMap<(Uuid, AssetRef), Option<MasterState>> = BTreeMap::new();
    for link in &links {
        let key = (link.master_account_id, link.master());
        if let std::collections::btree_map::Entry::Vacant(entry) = masters.entry(key) {
            entry.insert(master(peers, key.0, key.1).await?.map(|m| m.state));
        }
    }
    let instances: Vec<(Uuid, AssetRef)> =
        links.iter().map(|l| (l.account_id, l.instance)).collect();
    let versions = peers.versions(&instances).await?;
    Ok(links
        .into_iter()
        .zip(versions)
        .map(|(link, instance)| {
            let master = masters
                .get(&(link.master_account_id, link.master()))
                .and_then(Option::as_ref);
            let evaluation = evaluate(&link, master, instance);
            Observed {
                master_version: master.map(|m| m.version).unwrap_or_default(),
                evaluation,
                link,
            }
        })
        .collect())
}
