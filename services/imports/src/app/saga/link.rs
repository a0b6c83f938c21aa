//! The saga's last step: the master → instance links, with what the instances were synced
//! to; for a re-import, what the instances no longer use goes first.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{Saga, StepError, failed};
use crate::app::cleanup::{self, CleanupError};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::link::{BoundSource, Link};
use crate::domain::spec::{ImportProgress, Mapping, PlannedAsset};
use crate::peers::convert;
use crate::store::{imports, links};

impl Saga {
    /// Step 3: the links; they and SUCCEEDED commit together.
    pub(super) async fn link(&self, import: &Import) -> Result<(), StepError> {
        let now = Utc::now();
        let mut new_links = Vec::with_capacity(import.progress.mappings.len());
        for mapping in &import.progress.mappings {
            new_links.push(self.new_link(import, mapping, now).await?);
        }
        self.release_superseded(import, &new_links).await?;
        let mut progress = import.progress.clone();
        let gone = self.remove_replaced(import, &mut progress).await?;

        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        let done = conn
            .transaction::<_, StoreError, _>(async |conn| {
                links::delete(conn, &gone).await?;
                links::upsert(conn, &new_links).await?;
                imports::advance(
                    conn,
                    import.id,
                    &[ImportState::Linking],
                    ImportState::Succeeded,
                    &progress,
                    "",
                )
                .await
            })
            .await?;
        if done {
            tracing::info!(import = %import.id, instances = new_links.len(), "import succeeded");
        }
        #[cfg(feature = "fault-injection")]
        crate::faults::reached(crate::faults::FailPoint::Linked);
        Ok(())
    }

    /// The link of the instance `mapping` names, as imported now.
    async fn new_link(
        &self,
        import: &Import,
        mapping: &Mapping,
        now: DateTime<Utc>,
    ) -> Result<Link, StepError> {
        let master = import
            .spec
            .get(mapping.kind, mapping.source_id)
            .ok_or_else(|| StepError::Permanent("a mapping of an unlisted asset".into()))?;
        let instance = AssetRef::new(mapping.kind, mapping.destination_id);
        let mut link = Link {
            instance,
            account_id: import.destination_account_id,
            master_id: master.id,
            master_account_id: import.source_account_id,
            import_id: import.id,
            import_time: now,
            master_version_at_import: master.version,
            master_version_synced: master.version,
            master_fingerprint: master.fingerprint.clone(),
            instance_version_synced: 0,
            data_sources: Default::default(),
            klips: Default::default(),
            synced_definition: None,
            token_grant_id: None,
            credential_copy_id: None,
            last_update_time: None,
        };
        let read = failed("the library could not read an instance");
        let progress = &import.progress;
        match mapping.kind {
            AssetKind::Klip => {
                let klip = self.peers.klip(link.account_id, instance.id).await;
                if let Some(klip) = klip.map_err(read)? {
                    link.instance_version_synced = klip.version;
                    link.synced_definition = Some(convert::klip_definition(&klip));
                }
                link.data_sources = bound_sources(import, master);
            }
            AssetKind::Dashboard => {
                let version = self.peers.version(link.account_id, instance).await;
                link.instance_version_synced = version.map_err(read)?.unwrap_or_default();
                for dependency in &master.dependencies {
                    if let Some(instance_id) = progress.destination(AssetKind::Klip, dependency.id)
                    {
                        link.klips.insert(dependency.id, instance_id);
                    }
                }
            }
            AssetKind::DataSource => {
                let version = self.peers.version(link.account_id, instance).await;
                link.instance_version_synced = version.map_err(read)?.unwrap_or_default();
                link.token_grant_id = progress
                    .token_grants
                    .iter()
                    .find(|g| g.data_source_id == instance.id)
                    .map(|g| g.grant_id);
                link.credential_copy_id = progress
                    .credential_copies
                    .iter()
                    .find(|c| c.data_source_id == instance.id)
                    .map(|c| c.destination_credential_id);
            }
        }
        Ok(link)
    }

    /// Re-import in place: grants and credential copies the instances no longer use.
    async fn release_superseded(
        &self,
        import: &Import,
        new_links: &[Link],
    ) -> Result<(), StepError> {
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        let instance_ids: Vec<Uuid> = new_links.iter().map(|l| l.instance.id).collect();
        let previous = links::get_many(&mut conn, &instance_ids).await?;
        drop(conn);
        for old in &previous {
            let Some(new) = new_links.iter().find(|l| l.instance == old.instance) else {
                continue;
            };
            if let Some(grant) = old.token_grant_id
                && new.token_grant_id != Some(grant)
            {
                self.peers
                    .revoke_grant(format!("{}/supersede/{grant}", import.id), grant)
                    .await
                    .map_err(failed(
                        "the token service could not revoke a replaced grant",
                    ))?;
            }
            if let Some(copy) = old.credential_copy_id
                && new.credential_copy_id != Some(copy)
            {
                let request_id = format!("{}/supersede/{copy}", import.id);
                self.peers
                    .delete_credential(request_id, import.destination_account_id, copy)
                    .await
                    .map_err(failed(
                        "the token service could not delete a replaced credential copy",
                    ))?;
            }
        }
        Ok(())
    }

    /// Re-import as a new copy: the old instance and what came with it go, recorded in
    /// `progress`; the ids of the removed assets, whose links go too.
    async fn remove_replaced(
        &self,
        import: &Import,
        progress: &mut ImportProgress,
    ) -> Result<Vec<Uuid>, StepError> {
        let replaced = match (import.kind, import.spec.replaced) {
            (ImportKind::ReimportNewCopy, Some(replaced)) => replaced,
            _ => return Ok(Vec::new()),
        };
        let mut conn = trellis_platform::db::connect(&self.pool).await?;
        let old = links::get(&mut conn, replaced.id).await?;
        drop(conn);
        let Some(old) = old else {
            return Ok(Vec::new());
        };
        let prefix = format!("{}/replace", import.id);
        let removed = cleanup::remove(&self.peers, &self.pool, &old, &prefix)
            .await
            .map_err(|e| match e {
                CleanupError::Peer(status) => {
                    failed("could not delete the replaced instance")(status)
                }
                CleanupError::Store(error) => StepError::Store(error),
                CleanupError::InUse(message) => StepError::Permanent(message),
            })?;
        let gone = removed.iter().map(|asset| asset.id).collect();
        progress.deleted = removed;
        Ok(gone)
    }
}

/// A Klip instance's data sources: the master's, each with the instance imported with it
/// and its fingerprint as planned.
fn bound_sources(
    import: &Import,
    master: &PlannedAsset,
) -> std::collections::BTreeMap<Uuid, BoundSource> {
    let mut bound = std::collections::BTreeMap::new();
    for dependency in &master.dependencies {
        let fingerprint = import
            .spec
            .get(AssetKind::DataSource, dependency.id)
            .map(|d| d.fingerprint.clone())
            .unwrap_or_default();
        if let Some(instance_id) = import
            .progress
            .destination(AssetKind::DataSource, dependency.id)
        {
            bound.insert(
                dependency.id,
                BoundSource {
                    instance_id,
                    fingerprint,
                },
            );
        }
    }
    bound
}
