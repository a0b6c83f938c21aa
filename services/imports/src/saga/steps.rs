//! The saga's forward steps: clone, grant, link.

use chrono::Utc;
use trellis_platform::error::StoreError;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Saga, StepError, failed};
use crate::cleanup;
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::link::{BoundSource, KlipDefinition, Link};
use crate::domain::spec::{CredentialCopy, GrantMade, Mapping};
use crate::settings::FailPoint;
use crate::store::{self, imports, links};

impl Saga {
    /// Step 1: the library copies the closure in one transaction under the import's id.
    pub(super) async fn clone_assets(&self, import: &Import) -> Result<(), StepError> {
        if import.state == ImportState::Pending {
            let mut conn = store::connect(&self.pool).await?;
            imports::advance(
                &mut conn,
                import.id,
                &[ImportState::Pending],
                ImportState::Cloning,
                &import.progress,
                "",
            )
            .await?;
        }
        let request = library::CloneAssetsRequest {
            request_id: import.id.to_string(),
            source_account_id: import.source_account_id.to_string(),
            destination_account_id: import.destination_account_id.to_string(),
            assets: import.spec.refs().map(AssetRef::to_library).collect(),
            reuse_ids: import
                .spec
                .reuse_ids
                .iter()
                .map(|(master, instance)| (master.to_string(), instance.to_string()))
                .collect(),
        };
        let cloned = self
            .peers
            .clone_assets(request)
            .await
            .map_err(failed("the library could not clone the assets"))?;
        self.fail_point(FailPoint::Cloning);
        let mut progress = import.progress.clone();
        progress.mappings = cloned
            .mappings
            .iter()
            .map(|m| {
                Some(Mapping {
                    kind: AssetKind::from_library(m.kind)?,
                    source_id: Uuid::parse_str(&m.source_id).ok()?,
                    destination_id: Uuid::parse_str(&m.destination_id).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StepError::Permanent("the library answered an unreadable id mapping".into())
            })?;
        progress.variables_created = cloned.variables_created;
        let mut conn = store::connect(&self.pool).await?;
        imports::advance(
            &mut conn,
            import.id,
            &[ImportState::Cloning],
            ImportState::Granting,
            &progress,
            "",
        )
        .await?;
        self.fail_point(FailPoint::Cloned);
        Ok(())
    }

    /// Step 2: token grants (I6) and scoped credential copies (I5) for the cloned data
    /// sources.
    pub(super) async fn grant(&self, import: &Import) -> Result<(), StepError> {
        let destination = import.destination_account_id;
        let mut progress = import.progress.clone();
        progress.token_grants.clear();
        progress.credential_copies.clear();
        for mapping in import
            .progress
            .mappings
            .iter()
            .filter(|m| m.kind == AssetKind::DataSource)
        {
            let master = import
                .spec
                .get(AssetKind::DataSource, mapping.source_id)
                .ok_or_else(|| {
                    StepError::Permanent(format!(
                        "the library cloned the data source {}, which the import did not list",
                        mapping.source_id
                    ))
                })?;
            let data_source = mapping.destination_id;
            if let Some(token) = master.token_id {
                // I6: the token is not copied; the instance uses the master's through a grant.
                let grant = self
                    .peers
                    .grant(
                        format!("{}/grant/{data_source}", import.id),
                        token,
                        import.source_account_id,
                        destination,
                        data_source,
                        &master.fingerprint,
                    )
                    .await
                    .map_err(failed("the token service refused the token grant"))?;
                progress.token_grants.push(GrantMade {
                    token_id: token,
                    grant_id: Uuid::parse_str(&grant.id).map_err(|_| {
                        StepError::Permanent("the token service answered a malformed grant".into())
                    })?,
                    data_source_id: data_source,
                });
            }
            if let Some(credential) = master.credential_id {
                // I5: a copy only this data source may use, and the instance pointed at it.
                let copy = self
                    .peers
                    .copy_credential(
                        format!("{}/credential/{data_source}", import.id),
                        credential,
                        import.source_account_id,
                        destination,
                        data_source,
                        &master.fingerprint,
                    )
                    .await
                    .map_err(failed("the token service could not copy the credential"))?;
                let copy_id = Uuid::parse_str(&copy.id).map_err(|_| {
                    StepError::Permanent("the token service answered a malformed credential".into())
                })?;
                self.peers
                    .set_credential(
                        format!("{}/auth/{data_source}", import.id),
                        destination,
                        data_source,
                        copy_id,
                    )
                    .await
                    .map_err(failed(
                        "the library could not point the data source at its credential",
                    ))?;
                progress.credential_copies.push(CredentialCopy {
                    source_credential_id: credential,
                    destination_credential_id: copy_id,
                    data_source_id: data_source,
                });
            }
        }
        let mut conn = store::connect(&self.pool).await?;
        imports::advance(
            &mut conn,
            import.id,
            &[ImportState::Granting],
            ImportState::Linking,
            &progress,
            "",
        )
        .await?;
        self.fail_point(FailPoint::Granted);
        Ok(())
    }

    /// Step 3: the links, with what the instances were synced to.
    pub(super) async fn link(&self, import: &Import) -> Result<(), StepError> {
        let destination = import.destination_account_id;
        let progress = &import.progress;
        let now = Utc::now();
        let mut new_links = Vec::with_capacity(progress.mappings.len());
        for mapping in &progress.mappings {
            let master = import
                .spec
                .get(mapping.kind, mapping.source_id)
                .ok_or_else(|| StepError::Permanent("a mapping of an unlisted asset".into()))?;
            let instance = AssetRef::new(mapping.kind, mapping.destination_id);
            let mut link = Link {
                instance,
                account_id: destination,
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
            match mapping.kind {
                AssetKind::Klip => {
                    let read = failed("the library could not read an instance");
                    if let Some(klip) = self
                        .peers
                        .klip(destination, instance.id)
                        .await
                        .map_err(read)?
                    {
                        link.instance_version_synced = klip.version;
                        link.synced_definition = Some(KlipDefinition::from_library(&klip));
                    }
                    for dependency in &master.dependencies {
                        let fingerprint = import
                            .spec
                            .get(AssetKind::DataSource, dependency.id)
                            .map(|d| d.fingerprint.clone())
                            .unwrap_or_default();
                        if let Some(instance_id) =
                            progress.destination(AssetKind::DataSource, dependency.id)
                        {
                            link.data_sources.insert(
                                dependency.id,
                                BoundSource {
                                    instance_id,
                                    fingerprint,
                                },
                            );
                        }
                    }
                }
                AssetKind::Dashboard => {
                    let read = failed("the library could not read an instance");
                    link.instance_version_synced = self
                        .peers
                        .version(destination, instance)
                        .await
                        .map_err(read)?
                        .unwrap_or_default();
                    for dependency in &master.dependencies {
                        if let Some(instance_id) =
                            progress.destination(AssetKind::Klip, dependency.id)
                        {
                            link.klips.insert(dependency.id, instance_id);
                        }
                    }
                }
                AssetKind::DataSource => {
                    let read = failed("the library could not read an instance");
                    link.instance_version_synced = self
                        .peers
                        .version(destination, instance)
                        .await
                        .map_err(read)?
                        .unwrap_or_default();
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
            new_links.push(link);
        }

        let mut progress = progress.clone();
        let mut conn = store::connect(&self.pool).await?;
        let instance_ids: Vec<Uuid> = new_links.iter().map(|l| l.instance.id).collect();
        let previous = links::get_many(&mut conn, &instance_ids).await?;
        drop(conn);
        // Re-import in place: grants and credential copies the instances no longer use.
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
                self.peers
                    .delete_credential(format!("{}/supersede/{copy}", import.id), destination, copy)
                    .await
                    .map_err(failed(
                        "the token service could not delete a replaced credential copy",
                    ))?;
            }
        }
        // Re-import as a new copy: the old instance and what came with it go.
        let mut gone = Vec::new();
        if import.kind == ImportKind::ReimportNewCopy
            && let Some(replaced) = import.spec.replaced
        {
            let mut conn = store::connect(&self.pool).await?;
            let old = links::get(&mut conn, replaced.id).await?;
            drop(conn);
            if let Some(old) = old {
                let removed = cleanup::remove(
                    &self.peers,
                    &self.pool,
                    &old,
                    &format!("{}/replace", import.id),
                )
                .await
                .map_err(|e| match e {
                    cleanup::CleanupError::Peer(status) => {
                        failed("could not delete the replaced instance")(status)
                    }
                    cleanup::CleanupError::Store(error) => StepError::Store(error),
                    cleanup::CleanupError::InUse(message) => StepError::Permanent(message),
                })?;
                gone = removed.iter().map(|asset| asset.id).collect();
                progress.deleted = removed;
            }
        }

        let mut conn = store::connect(&self.pool).await?;
        let done = {
            use diesel_async::AsyncConnection;
            conn.transaction::<_, StoreError, _>(async |conn| {
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
            .await?
        };
        if done {
            tracing::info!(import = %import.id, instances = new_links.len(), "import succeeded");
        }
        self.fail_point(FailPoint::Linked);
        Ok(())
    }
}
