//! The saga's first two steps: clone, grant. The third, link, is in `link`.

use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Saga, StepError, failed};
use crate::domain::asset::AssetKind;
use crate::domain::import::{Import, ImportState};
use crate::domain::spec::{CredentialCopy, GrantMade, ImportProgress, Mapping, PlannedAsset};
use crate::peers::convert;

impl Saga {
    /// Step 1: the library copies the closure in one transaction under the import's id.
    pub(super) async fn clone_assets(&self, import: &Import) -> Result<(), StepError> {
        if import.state == ImportState::Pending {
            let (from, to) = (ImportState::Pending, ImportState::Cloning);
            self.advance(import, from, to, &import.progress, "").await?;
        }
        let request = library::CloneAssetsRequest {
            request_id: import.id.to_string(),
            source_account_id: import.source_account_id.to_string(),
            destination_account_id: import.destination_account_id.to_string(),
            assets: import.spec.refs().map(convert::library_ref).collect(),
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
        #[cfg(feature = "fault-injection")]
        crate::faults::reached(crate::faults::FailPoint::Cloning);
        let mut progress = import.progress.clone();
        progress.mappings = cloned
            .mappings
            .iter()
            .map(|m| {
                Some(Mapping {
                    kind: convert::asset_kind(m.kind)?,
                    source_id: Uuid::parse_str(&m.source_id).ok()?,
                    destination_id: Uuid::parse_str(&m.destination_id).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StepError::Permanent("the library answered an unreadable id mapping".into())
            })?;
        progress.variables_created = cloned.variables_created;
        let (from, to) = (ImportState::Cloning, ImportState::Granting);
        self.advance(import, from, to, &progress, "").await?;
        #[cfg(feature = "fault-injection")]
        crate::faults::reached(crate::faults::FailPoint::Cloned);
        Ok(())
    }

    /// Step 2: token grants (I6) and scoped credential copies (I5) for the cloned data
    /// sources.
    pub(super) async fn grant(&self, import: &Import) -> Result<(), StepError> {
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
            self.lend_secrets(import, master, mapping.destination_id, &mut progress)
                .await?;
        }
        let (from, to) = (ImportState::Granting, ImportState::Linking);
        self.advance(import, from, to, &progress, "").await?;
        #[cfg(feature = "fault-injection")]
        crate::faults::reached(crate::faults::FailPoint::Granted);
        Ok(())
    }

    /// What the clone `data_source` of `master` refreshes with, recorded in `progress`.
    async fn lend_secrets(
        &self,
        import: &Import,
        master: &PlannedAsset,
        data_source: Uuid,
        progress: &mut ImportProgress,
    ) -> Result<(), StepError> {
        if let Some(token) = master.token_id {
            // I6: the token is not copied; the instance uses the master's through a grant.
            let grant = self
                .peers
                .grant(
                    format!("{}/grant/{data_source}", import.id),
                    token,
                    import.source_account_id,
                    import.destination_account_id,
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
            let copy = self
                .copy_credential(import, master, credential, data_source)
                .await?;
            progress.credential_copies.push(copy);
        }
        Ok(())
    }

    /// I5: a copy of the master's credential only the clone may use, and the clone
    /// pointed at it.
    async fn copy_credential(
        &self,
        import: &Import,
        master: &PlannedAsset,
        credential: Uuid,
        data_source: Uuid,
    ) -> Result<CredentialCopy, StepError> {
        let destination = import.destination_account_id;
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
        Ok(CredentialCopy {
            source_credential_id: credential,
            destination_credential_id: copy_id,
            data_source_id: data_source,
        })
    }
}
