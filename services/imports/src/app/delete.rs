//! DeleteInstances: a master's instances in the named accounts go, all or nothing as far
//! as the checks go (family, data sources still bound), each with what was imported with
//! it ([`cleanup`]).

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use tonic_types::PreconditionViolation;
use trellis_platform::auth::Caller;
use trellis_platform::db;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::peer::upstream;
use trellis_platform::replay;
use uuid::Uuid;

use super::cleanup::{self, CleanupError};
use super::{App, planning};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::link::Link;
use crate::store::links;

/// An asset removed by DeleteInstances, in the account it was removed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub account: Uuid,
    pub asset: AssetRef,
}

impl App {
    /// Removes the instances of `master` in `accounts` (each once). The deletions in the
    /// library carry request ids made from the caller's `request_id`, so a retry cut short
    /// finishes the same removals.
    pub async fn delete_instances(
        &self,
        caller: &Caller,
        request_id: &str,
        master: AssetRef,
        accounts: &[Uuid],
    ) -> ApiResult<Vec<Deleted>> {
        let mut targets = Vec::new();
        for account in accounts {
            targets.extend(self.links_of(caller, master, Some(*account)).await?);
        }
        // I2: only instances in the master's family; an account that left it keeps its
        // copies.
        let pairs: BTreeSet<(Uuid, Uuid)> = targets
            .iter()
            .map(|l| (l.master_account_id, l.account_id))
            .collect();
        for (master_account, account) in pairs {
            planning::check_family(&self.peers, master_account, account).await?;
        }
        if master.kind == AssetKind::DataSource {
            self.check_unbound(&targets).await?;
        }
        let prefix = if request_id.is_empty() {
            format!("delete/{}", Uuid::now_v7())
        } else {
            let scope = replay::scope(caller);
            let digest = Sha256::digest(format!("{scope}\u{1f}{request_id}"));
            format!("delete/{}", hex::encode(&digest[..16]))
        };
        let mut deleted = Vec::new();
        for link in &targets {
            let removed = cleanup::remove(&self.peers, &self.pool, link, &prefix)
                .await
                .map_err(|error| match error {
                    CleanupError::Peer(status) => upstream("library")(status),
                    CleanupError::Store(error) => error.into(),
                    CleanupError::InUse(message) => {
                        ApiError::precondition("IN_USE", link.instance.subject(), message)
                    }
                })?;
            let mut gone: Vec<Uuid> = removed.iter().map(|a| a.id).collect();
            gone.push(link.instance.id);
            let mut conn = db::connect(&self.pool).await?;
            links::delete(&mut conn, &gone).await?;
            deleted.extend(removed.into_iter().map(|asset| Deleted {
                account: link.account_id,
                asset,
            }));
        }
        Ok(deleted)
    }

    /// All or nothing: an instance data source that Klips still bind is refused up front.
    async fn check_unbound(&self, targets: &[Link]) -> ApiResult<()> {
        let mut in_use = Vec::new();
        for link in targets {
            if self
                .peers
                .data_source_in_use(link.account_id, link.instance.id)
                .await
                .map_err(upstream("library"))?
            {
                in_use.push(PreconditionViolation::new(
                    "IN_USE",
                    link.instance.subject(),
                    format!(
                        "Klips of account {} bind this instance; delete those Klip instances first",
                        link.account_id
                    ),
                ));
            }
        }
        if in_use.is_empty() {
            Ok(())
        } else {
            Err(ApiError::FailedPrecondition(in_use))
        }
    }
}
