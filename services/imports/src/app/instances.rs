//! ListInstances, GetInstance (I11) and UpdateInstances (I9, I10): the links of a master
//! with their statuses, and pushing a master Klip's changes to its instances.

use std::collections::BTreeSet;

use tokio::sync::mpsc;
use tonic::Status;
use trellis_platform::auth::Caller;
use trellis_platform::db;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::peer::upstream;
use trellis_platform::replay;
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::observe::{self, Observed};
use super::updating::{self, UpdateRequest};
use super::{App, member_of};
use crate::domain::asset::AssetRef;
use crate::domain::link::Link;
use crate::store::links::{self, MasterFilter};

/// Links read per query when every link of a master is wanted.
const BATCH: i64 = 1000;

/// An UpdateInstances request, read.
pub struct InstanceUpdate {
    pub request_id: String,
    /// A Klip.
    pub master: AssetRef,
    /// Only these instances; all when empty.
    pub chosen: Vec<Uuid>,
    pub dry_run: bool,
    pub push_data_sources: bool,
}

impl App {
    /// The filter of the links of `master` the caller may act on: for users, masters of the
    /// signed-in account only.
    fn master_filter(
        caller: &Caller,
        master: AssetRef,
        account: Option<Uuid>,
    ) -> ApiResult<MasterFilter> {
        Ok(MasterFilter {
            master,
            master_account: if caller.is_service() {
                None
            } else {
                Some(caller.account()?)
            },
            account,
        })
    }

    /// Every link of a master the caller may act on.
    pub(super) async fn links_of(
        &self,
        caller: &Caller,
        master: AssetRef,
        account: Option<Uuid>,
    ) -> ApiResult<Vec<Link>> {
        let filter = Self::master_filter(caller, master, account)?;
        let mut conn = db::connect(&self.pool).await?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = links::of_master(&mut conn, filter, after, BATCH).await?;
            let last = page.last().map(|l| (l.account_id, l.instance.id));
            let full = page.len() as i64 == BATCH;
            all.extend(page);
            match (full, last) {
                (true, Some(key)) => after = Some(key),
                _ => return Ok(all),
            }
        }
    }

    /// A page of the instances of `master` (in `account` when given) after the key
    /// `after`, at most `limit`, and their statuses once `keep` has cut the page.
    pub async fn list_instances(
        &self,
        caller: &Caller,
        master: AssetRef,
        account: Option<Uuid>,
        after: Option<(Uuid, Uuid)>,
        limit: i64,
        keep: impl FnOnce(&mut Vec<Link>) -> String,
    ) -> ApiResult<(Vec<Observed>, String)> {
        let filter = Self::master_filter(caller, master, account)?;
        let mut conn = db::connect(&self.pool).await?;
        let mut found = links::of_master(&mut conn, filter, after, limit).await?;
        drop(conn);
        let next_page_token = keep(&mut found);
        let observed = observe::observe(&self.peers, found)
            .await
            .map_err(upstream("library"))?;
        Ok((observed, next_page_token))
    }

    /// The link of an instance asset, if the caller is a member of its account or of its
    /// master's.
    pub(super) async fn visible_link(
        &self,
        caller: &Caller,
        instance: AssetRef,
    ) -> ApiResult<Link> {
        let mut conn = db::connect(&self.pool).await?;
        links::get(&mut conn, instance.id)
            .await?
            .filter(|link| link.instance.kind == instance.kind)
            .filter(|link| {
                member_of(caller, link.account_id) || member_of(caller, link.master_account_id)
            })
            .ok_or_else(|| ApiError::not_found("instance", instance.id))
    }

    pub async fn get_instance(
        &self,
        caller: &Caller,
        instance: AssetRef,
    ) -> ApiResult<Option<Observed>> {
        let link = self.visible_link(caller, instance).await?;
        let observed = observe::observe(&self.peers, vec![link])
            .await
            .map_err(upstream("library"))?;
        Ok(observed.into_iter().next())
    }

    /// Starts the update; its events arrive on the answered channel, already on the wire
    /// (see `updating` for why).
    pub async fn update_instances(
        &self,
        caller: &Caller,
        request: InstanceUpdate,
    ) -> ApiResult<mpsc::Receiver<Result<pb::UpdateInstancesResponse, Status>>> {
        let master = request.master;
        let master_account = if caller.is_service() {
            None
        } else {
            let own = caller.account()?;
            // The master must be a Klip of the signed-in account.
            self.peers
                .klip(own, master.id)
                .await
                .map_err(upstream("library"))?
                .ok_or_else(|| ApiError::not_found("Klip", master.id))?;
            Some(own)
        };
        let mut links = self.links_of(caller, master, None).await?;
        if !request.chosen.is_empty() {
            let mut violations = Violations::new();
            for (i, id) in request.chosen.iter().enumerate() {
                if !links.iter().any(|l| l.instance.id == *id) {
                    violations.add(
                        format!("instance_ids[{i}]"),
                        format!("{id} is not an instance of the Klip {}", master.id),
                    );
                }
            }
            violations.into_result()?;
            let chosen: BTreeSet<Uuid> = request.chosen.into_iter().collect();
            links.retain(|l| chosen.contains(&l.instance.id));
        }
        let master_account = master_account
            .or_else(|| links.first().map(|l| l.master_account_id))
            .unwrap_or_default();
        let update = UpdateRequest {
            scope: replay::scope(caller),
            request_id: request.request_id,
            master_account,
            master_klip: master.id,
            links,
            dry_run: request.dry_run,
            push_data_sources: request.push_data_sources,
        };
        let (sender, receiver) = mpsc::channel(16);
        tokio::spawn(updating::run(
            self.peers.clone(),
            self.pool.clone(),
            update,
            sender,
        ));
        Ok(receiver)
    }
}
