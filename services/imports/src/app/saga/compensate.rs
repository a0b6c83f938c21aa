//! Compensation: undoing what an import made when it cannot go on.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{Saga, StepError, failed};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::{Import, ImportState};
use crate::domain::spec::Mapping;

impl Saga {
    /// Undoes what the steps made: grants and credential copies for the cloned data
    /// sources, and the clones themselves. Instances overwritten in place by a re-import
    /// cannot be restored; the import then ends FAILED and says so.
    pub(super) async fn compensate(&self, import: &Import) -> Result<(), StepError> {
        let destination = import.destination_account_id;
        let reused: BTreeSet<Uuid> = import.spec.reuse_ids.values().copied().collect();
        let minted: Vec<&Mapping> = import
            .progress
            .mappings
            .iter()
            .filter(|m| !reused.contains(&m.destination_id))
            .collect();
        let minted_sources: BTreeSet<Uuid> = minted
            .iter()
            .filter(|m| m.kind == AssetKind::DataSource)
            .map(|m| m.destination_id)
            .collect();
        if !minted_sources.is_empty() {
            self.take_back_secrets(import, &minted_sources).await?;
        }
        let undo = |what| failed(what);
        // Dependents first: dashboards, Klips, then data sources.
        let mut ordered = minted.clone();
        ordered.sort_by_key(|m| std::cmp::Reverse(m.kind));
        for mapping in ordered {
            self.peers
                .delete(
                    format!("{}/compensate/{}", import.id, mapping.destination_id),
                    destination,
                    AssetRef::new(mapping.kind, mapping.destination_id),
                    true,
                )
                .await
                .map_err(undo("could not delete a clone"))?;
        }
        let (end, error) = if reused.is_empty() {
            (ImportState::Compensated, import.error.clone())
        } else {
            (
                ImportState::Failed,
                format!(
                    "{}; the instances re-imported in place keep the master's definition and cannot be restored",
                    import.error
                ),
            )
        };
        self.advance(
            import,
            ImportState::Compensating,
            end,
            &import.progress,
            &error,
        )
        .await?;
        Ok(())
    }

    /// Revokes the grants and deletes the credential copies made for the clones
    /// `minted_sources`. Those made before a crash may not be in the progress: the token
    /// service is asked.
    async fn take_back_secrets(
        &self,
        import: &Import,
        minted_sources: &BTreeSet<Uuid>,
    ) -> Result<(), StepError> {
        let destination = import.destination_account_id;
        let undo = |what| failed(what);
        for grant in self
            .peers
            .grants_to(destination)
            .await
            .map_err(undo("could not list the grants to revoke"))?
        {
            let on_clone =
                Uuid::parse_str(&grant.data_source_id).is_ok_and(|ds| minted_sources.contains(&ds));
            if let (true, Ok(id)) = (on_clone, Uuid::parse_str(&grant.id)) {
                self.peers
                    .revoke_grant(format!("{}/compensate/{id}", import.id), id)
                    .await
                    .map_err(undo("could not revoke a grant"))?;
            }
        }
        for credential in self
            .peers
            .credentials(destination)
            .await
            .map_err(undo("could not list the credential copies to delete"))?
        {
            let on_clone = Uuid::parse_str(&credential.scoped_data_source_id)
                .is_ok_and(|ds| minted_sources.contains(&ds));
            if let (true, Ok(id)) = (on_clone, Uuid::parse_str(&credential.id)) {
                self.peers
                    .delete_credential(format!("{}/compensate/{id}", import.id), destination, id)
                    .await
                    .map_err(undo("could not delete a credential copy"))?;
            }
        }
        Ok(())
    }
}
