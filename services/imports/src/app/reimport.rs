//! Re-import (I12): a fresh import of an instance's master closure into the instance's
//! account, run by the same saga as a planned import. In place, the instance and the
//! instances imported with it are overwritten and keep their ids (the library's CloneAssets
//! with `reuse_ids`), so embeds and email schedules survive; a data source the master added
//! since is imported new. As a new copy, new ids are made and the old instance goes.

use std::collections::{BTreeMap, BTreeSet};

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::peer::upstream;
use uuid::Uuid;

use super::App;

use crate::app::planning;
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::{Import, ImportKind};
use crate::domain::link::Link;
use crate::domain::spec::ImportSpec;
use crate::peers::Peers;
use crate::store::{imports, links};

/// The re-import of `link`'s instance, ready to be recorded and run.
pub async fn prepare(
    peers: &Peers,
    pool: &DbPool,
    link: &Link,
    kind: ImportKind,
    creator: &str,
) -> ApiResult<Import> {
    planning::check_family(peers, link.master_account_id, link.account_id)
        .await
        .map_err(|error| match error {
            ApiError::PermissionDenied(message) => {
                ApiError::precondition("FAMILY", link.instance.subject(), message)
            }
            other => other,
        })?;
    let master = link.master();
    let (mut spec, _) = planning::closure(peers, link.master_account_id, &[master])
        .await
        .map_err(|error| match error {
            ApiError::NotFound { .. } => ApiError::precondition(
                "MASTER_MISSING",
                master.subject(),
                "the master was deleted; there is nothing to re-import",
            ),
            other => other,
        })?;
    let present = peers
        .version(link.account_id, link.instance)
        .await
        .map_err(upstream("library"))?
        .is_some();
    if kind == ImportKind::ReimportInPlace {
        if !present {
            return Err(ApiError::precondition(
                "INSTANCE_MISSING",
                link.instance.subject(),
                "the instance was deleted in its account; re-import it as a new copy",
            ));
        }
        spec.reuse_ids = reuse_ids(peers, pool, link, &spec).await?;
    }
    spec.replaced = Some(link.instance);
    let accounts = (link.master_account_id, link.account_id);
    Ok(Import::pending(kind, None, accounts, spec, creator))
}

/// Master → instance for every asset of the closure that the instance already has: the
/// instance itself, a dashboard's Klips, the Klips' data sources, as the links record them.
/// Targets deleted in the meantime are left out (the clone mints new ones).
async fn reuse_ids(
    peers: &Peers,
    pool: &DbPool,
    root: &Link,
    spec: &ImportSpec,
) -> ApiResult<BTreeMap<Uuid, Uuid>> {
    let mut candidates: Vec<(AssetRef, Uuid)> = vec![(root.master(), root.instance.id)];
    let mut klip_links = Vec::new();
    let mut conn = trellis_platform::db::connect(pool).await?;
    match root.kind() {
        AssetKind::Dashboard => {
            let instances: Vec<Uuid> = root.klips.values().copied().collect();
            for klip in links::get_many(&mut conn, &instances).await? {
                if klip.account_id == root.account_id {
                    candidates.push((klip.master(), klip.instance.id));
                    klip_links.push(klip);
                }
            }
        }
        AssetKind::Klip => klip_links.push(root.clone()),
        AssetKind::DataSource => {}
    }
    drop(conn);
    for klip in &klip_links {
        for (master, bound) in &klip.data_sources {
            candidates.push((
                AssetRef::new(AssetKind::DataSource, *master),
                bound.instance_id,
            ));
        }
    }
    let wanted: BTreeSet<AssetRef> = spec.refs().collect();
    let mut reuse = BTreeMap::new();
    let mut targets = BTreeSet::new();
    // Which targets exist, read in one batch; only the wanted ones are asked about.
    let asked: Vec<(Uuid, AssetRef)> = candidates
        .iter()
        .filter(|(master, _)| wanted.contains(master))
        .map(|(master, instance)| (root.account_id, AssetRef::new(master.kind, *instance)))
        .collect();
    let present: BTreeSet<AssetRef> = if asked.is_empty() {
        BTreeSet::new()
    } else {
        peers
            .versions(&asked)
            .await
            .map_err(upstream("library"))?
            .into_iter()
            .zip(&asked)
            .filter_map(|(version, (_, asset))| version.map(|_| *asset))
            .collect()
    };
    for (master, instance) in candidates {
        if !wanted.contains(&master) || reuse.contains_key(&master.id) || !targets.insert(instance)
        {
            continue;
        }
        if present.contains(&AssetRef::new(master.kind, instance)) {
            reuse.insert(master.id, instance);
        }
    }
    Ok(reuse)
}

/// Records a re-import made by [`App::prepare_reimport`].
pub async fn start(conn: &mut AsyncPgConnection, import: Import) -> ApiResult<Import> {
    imports::insert(conn, &import).await?;
    Ok(import)
}

impl App {
    /// The re-import of `instance`, ready for [`start`]; an admin of the instance's account
    /// or of the master's may re-import it.
    pub async fn prepare_reimport(
        &self,
        caller: &Caller,
        instance: AssetRef,
        kind: ImportKind,
    ) -> ApiResult<Import> {
        let link = self.visible_link(caller, instance).await?;
        // I15: a re-import copies the master's assets and secrets again, so it needs a
        // membership of the master's account as a first import does.
        planning::check_importer(&self.peers, caller, link.master_account_id).await?;
        prepare(&self.peers, &self.pool, &link, kind, caller.user()).await
    }
}
