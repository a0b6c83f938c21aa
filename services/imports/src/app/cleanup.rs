//! Removing instances: DeleteInstances, and a re-import as a new copy replacing the old
//! instance. An instance goes with the instances that were imported with it and that nothing
//! else in its account uses (a dashboard's Klips on no other dashboard, a Klip's data sources
//! no other Klip binds); a removed data source's token grant (I6) and credential copy (I5)
//! go too. The client's own assets are never touched: only linked instances are removed.
//!
//! Every call is idempotent (an asset already gone counts as removed), so a removal cut short
//! is finished by doing it again. The links of the removed assets are the caller's to delete.

use tonic::{Code, Status};
use trellis_platform::db::DbPool;
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::link::Link;
use crate::peers::Peers;
use crate::store::links;

#[derive(Debug)]
pub enum CleanupError {
    Peer(Status),
    Store(StoreError),
    /// The instance is a data source that Klips of its account still bind.
    InUse(String),
}

impl From<Status> for CleanupError {
    fn from(status: Status) -> Self {
        CleanupError::Peer(status)
    }
}

impl From<StoreError> for CleanupError {
    fn from(error: StoreError) -> Self {
        CleanupError::Store(error)
    }
}

/// Removes `link`'s instance and its associated instances; returns every asset that is now
/// gone. `request_prefix` makes the request ids of the deletions.
pub async fn remove(
    peers: &Peers,
    pool: &DbPool,
    link: &Link,
    request_prefix: &str,
) -> Result<Vec<AssetRef>, CleanupError> {
    let mut removed = Vec::new();
    let removal = Removal {
        peers,
        pool,
        prefix: request_prefix,
        account: link.account_id,
    };
    match link.kind() {
        AssetKind::Dashboard => removal.dashboard(link, &mut removed).await?,
        AssetKind::Klip => removal.klip(link, &mut removed).await?,
        AssetKind::DataSource => {
            if peers
                .data_source_in_use(link.account_id, link.instance.id)
                .await?
            {
                return Err(CleanupError::InUse(format!(
                    "Klips of account {} still bind the instance data source {}; delete those Klip instances first",
                    link.account_id, link.instance.id
                )));
            }
            removal.data_source(link, &mut removed).await?;
        }
    }
    Ok(removed)
}

struct Removal<'a> {
    peers: &'a Peers,
    pool: &'a DbPool,
    prefix: &'a str,
    account: Uuid,
}

impl Removal<'_> {
    fn request_id(&self, asset: AssetRef) -> String {
        format!("{}/{}", self.prefix, asset.id)
    }

    /// The link of an instance imported with the one removed, when it is in this account
    /// (only linked instances of the account are ever removed).
    async fn companion(&self, instance: Uuid) -> Result<Option<Link>, StoreError> {
        let mut conn = trellis_platform::db::connect(self.pool).await?;
        let link = links::get(&mut conn, instance).await?;
        Ok(link.filter(|link| link.account_id == self.account))
    }

    /// Deletes `link`'s instance; one gone already counts as deleted.
    async fn delete(&self, link: &Link) -> Result<(), Status> {
        let request_id = self.request_id(link.instance);
        self.peers
            .delete(request_id, self.account, link.instance, false)
            .await
            .map(drop)
    }

    async fn dashboard(
        &self,
        link: &Link,
        removed: &mut Vec<AssetRef>,
    ) -> Result<(), CleanupError> {
        self.delete(link).await?;
        removed.push(link.instance);
        for klip in link.klips.values() {
            let Some(klip_link) = self.companion(*klip).await? else {
                continue;
            };
            if self
                .peers
                .dashboards_showing(self.account, *klip)
                .await?
                .is_empty()
            {
                self.klip(&klip_link, removed).await?;
            }
        }
        Ok(())
    }

    async fn klip(&self, link: &Link, removed: &mut Vec<AssetRef>) -> Result<(), CleanupError> {
        self.delete(link).await?;
        removed.push(link.instance);
        for bound in link.data_sources.values() {
            let Some(source_link) = self.companion(bound.instance_id).await? else {
                continue;
            };
            if !self
                .peers
                .data_source_in_use(self.account, bound.instance_id)
                .await?
            {
                self.data_source(&source_link, removed).await?;
            }
        }
        Ok(())
    }

    async fn data_source(
        &self,
        link: &Link,
        removed: &mut Vec<AssetRef>,
    ) -> Result<(), CleanupError> {
        match self.delete(link).await {
            Ok(()) => {}
            // A Klip started binding it meanwhile: it stays.
            Err(status) if status.code() == Code::FailedPrecondition => return Ok(()),
            Err(status) => return Err(status.into()),
        }
        removed.push(link.instance);
        if let Some(grant) = link.token_grant_id {
            self.peers
                .revoke_grant(format!("{}/grant/{grant}", self.prefix), grant)
                .await?;
        }
        if let Some(copy) = link.credential_copy_id {
            self.peers
                .delete_credential(
                    format!("{}/credential/{copy}", self.prefix),
                    self.account,
                    copy,
                )
                .await?;
        }
        Ok(())
    }
}
