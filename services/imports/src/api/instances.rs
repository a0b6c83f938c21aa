//! ListInstances, GetInstance (I11), UpdateInstances (I9, I10), ReimportInstance (I12),
//! DeleteInstances.

use std::collections::BTreeSet;

use diesel_async::AsyncConnection;
use sha2::{Digest, Sha256};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use tonic::codegen::BoxStream;
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::imports::v1 as pb;
use uuid::Uuid;

use super::{ImportsApi, asset_ref, caller, convert, idempotency_scope, member_of, parse_id};
use crate::cleanup::{self, CleanupError};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::import::ImportKind;
use crate::domain::link::Link;
use crate::observe;
use crate::peers::upstream;
use crate::planning;
use crate::reimport;
use crate::store::links::{self, MasterFilter};
use crate::store::{TxError, imports};
use crate::updating::{self, UpdateRequest};

const REIMPORT: &str = "ReimportInstance";
const DELETE: &str = "DeleteInstances";

impl ImportsApi {
    /// Every link of a master the caller may act on: for users, masters of the signed-in
    /// account only.
    async fn links_of(
        &self,
        caller: &Caller,
        master: AssetRef,
        account: Option<Uuid>,
    ) -> ApiResult<Vec<Link>> {
        let filter = MasterFilter {
            master,
            master_account: if caller.is_service() {
                None
            } else {
                Some(caller.account()?)
            },
            account,
        };
        let mut conn = self.conn().await?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = links::of_master(&mut conn, filter, after, 1000).await?;
            let last = page.last().map(|l| (l.account_id, l.instance.id));
            let full = page.len() == 1000;
            all.extend(page);
            match (full, last) {
                (true, Some(key)) => after = Some(key),
                _ => return Ok(all),
            }
        }
    }

    pub(super) async fn list_instances(
        &self,
        request: Request<pb::ListInstancesRequest>,
    ) -> ApiResult<pb::ListInstancesResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let master = asset_ref(&mut violations, "master", request.master.as_ref());
        let account = if request.account_id.is_empty() {
            None
        } else {
            Uuid::parse_str(&request.account_id)
                .map_err(|_| violations.add("account_id", "must be a UUID"))
                .ok()
        };
        violations.into_result()?;
        let master = master.expect("checked above");
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let after = page
            .after
            .as_deref()
            .map(|key| {
                key.split_once('/')
                    .and_then(|(a, i)| Some((Uuid::parse_str(a).ok()?, Uuid::parse_str(i).ok()?)))
                    .ok_or_else(|| {
                        ApiError::invalid("page_token", "not a token this service issued")
                    })
            })
            .transpose()?;
        let filter = MasterFilter {
            master,
            master_account: if caller.is_service() {
                None
            } else {
                Some(caller.account()?)
            },
            account,
        };
        let mut conn = self.conn().await?;
        let mut found = links::of_master(&mut conn, filter, after, page.fetch_limit()).await?;
        drop(conn);
        let next_page_token = page.finish(&mut found, |l| {
            format!("{}/{}", l.account_id, l.instance.id)
        });
        let observed = observe::observe(&self.peers, found)
            .await
            .map_err(upstream("library"))?;
        Ok(pb::ListInstancesResponse {
            instances: observed.iter().map(convert::instance).collect(),
            next_page_token,
        })
    }

    /// The link of an instance asset, if the caller is a member of its account or of its
    /// master's.
    async fn visible_link(&self, caller: &Caller, instance: AssetRef) -> ApiResult<Link> {
        let mut conn = self.conn().await?;
        links::get(&mut conn, instance.id)
            .await?
            .filter(|link| link.instance.kind == instance.kind)
            .filter(|link| {
                member_of(caller, link.account_id) || member_of(caller, link.master_account_id)
            })
            .ok_or_else(|| ApiError::not_found("instance", instance.id))
    }

    pub(super) async fn get_instance(
        &self,
        request: Request<pb::GetInstanceRequest>,
    ) -> ApiResult<pb::GetInstanceResponse> {
        let caller = caller(&request)?;
        let mut violations = Violations::new();
        let instance = asset_ref(
            &mut violations,
            "instance",
            request.get_ref().instance.as_ref(),
        );
        violations.into_result()?;
        let link = self
            .visible_link(&caller, instance.expect("checked above"))
            .await?;
        let observed = observe::observe(&self.peers, vec![link])
            .await
            .map_err(upstream("library"))?;
        Ok(pb::GetInstanceResponse {
            instance: observed.first().map(convert::instance),
        })
    }

    pub(super) async fn update_instances(
        &self,
        request: Request<pb::UpdateInstancesRequest>,
    ) -> ApiResult<BoxStream<pb::UpdateInstancesResponse>> {
        let caller = caller(&request)?;
        // I2: an admin of the master's account.
        caller.require_admin()?;
        let request = request.into_inner();
        idempotency::validate(&request.request_id)?;
        let mut violations = Violations::new();
        let master = match parse_id("master_klip_id", &request.master_klip_id) {
            Ok(id) => Some(AssetRef::new(AssetKind::Klip, id)),
            Err(ApiError::InvalidArgument(found)) => {
                for v in found {
                    violations.add(v.field, v.description);
                }
                None
            }
            Err(other) => return Err(other),
        };
        let mut chosen = Vec::new();
        for (i, id) in request.instance_ids.iter().enumerate() {
            match Uuid::parse_str(id) {
                Ok(id) => chosen.push(id),
                Err(_) => violations.add(format!("instance_ids[{i}]"), "must be a UUID"),
            }
        }
        violations.into_result()?;
        let master = master.expect("checked above");

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
        let mut links = self.links_of(&caller, master, None).await?;
        if !chosen.is_empty() {
            let mut violations = Violations::new();
            for (i, id) in chosen.iter().enumerate() {
                if !links.iter().any(|l| l.instance.id == *id) {
                    violations.add(
                        format!("instance_ids[{i}]"),
                        format!("{id} is not an instance of the Klip {}", master.id),
                    );
                }
            }
            violations.into_result()?;
            let chosen: BTreeSet<Uuid> = chosen.into_iter().collect();
            links.retain(|l| chosen.contains(&l.instance.id));
        }
        let master_account = master_account
            .or_else(|| links.first().map(|l| l.master_account_id))
            .unwrap_or_default();
        let update = UpdateRequest {
            scope: idempotency_scope(&caller),
            request_id: request.request_id,
            master_account,
            master_klip: master.id,
            links,
            dry_run: request.dry_run,
            push_data_sources: request.push_data_sources,
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(updating::run(
            self.peers.clone(),
            self.pool.clone(),
            update,
            sender,
        ));
        Ok(Box::pin(ReceiverStream::new(receiver)))
    }

    pub(super) async fn reimport_instance(
        &self,
        request: Request<pb::ReimportInstanceRequest>,
    ) -> ApiResult<pb::ReimportInstanceResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        idempotency::validate(&request.request_id)?;
        let mut violations = Violations::new();
        let instance = asset_ref(&mut violations, "instance", request.instance.as_ref());
        let kind = match pb::ReimportMode::try_from(request.mode) {
            // In place by default: ids kept, so embeds and email schedules survive (I12).
            Ok(pb::ReimportMode::Unspecified | pb::ReimportMode::InPlace) => {
                Some(ImportKind::ReimportInPlace)
            }
            Ok(pb::ReimportMode::NewCopy) => Some(ImportKind::ReimportNewCopy),
            Err(_) => {
                violations.add("mode", "must be IN_PLACE or NEW_COPY");
                None
            }
        };
        violations.into_result()?;
        let (instance, kind) = (
            instance.expect("checked above"),
            kind.expect("checked above"),
        );
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        let replayed: Option<pb::ExecuteImportPlanResponse> =
            idempotency::replay(&mut conn, &scope, REIMPORT, &request.request_id).await?;
        drop(conn);
        if let Some(done) = replayed {
            let finished = self
                .finish_import(done.import.unwrap_or_default().id)
                .await?;
            return Ok(pb::ReimportInstanceResponse {
                import: finished.import,
            });
        }
        // An admin of the instance's account or of the master's.
        let link = self.visible_link(&caller, instance).await?;
        // I15: a re-import copies the master's assets and secrets again, so it needs a
        // membership of the master's account as a first import does.
        planning::check_importer(&self.peers, &caller, link.master_account_id).await?;
        let import = reimport::prepare(&self.peers, &self.pool, &link, kind, caller.user()).await?;
        let mut conn = self.conn().await?;
        let id = conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(done) = idempotency::replay::<pb::ExecuteImportPlanResponse>(
                    conn,
                    &scope,
                    REIMPORT,
                    &request.request_id,
                )
                .await?
                {
                    return Ok(done.import.unwrap_or_default().id);
                }
                imports::insert(conn, &import).await?;
                let answer = pb::ExecuteImportPlanResponse {
                    import: Some(pb::Import {
                        id: import.id.to_string(),
                        ..Default::default()
                    }),
                };
                idempotency::remember(conn, &scope, REIMPORT, &request.request_id, &answer).await?;
                Ok(import.id.to_string())
            })
            .await?;
        // The saga takes connections of its own: this one is not held while it runs.
        drop(conn);
        let finished = self.finish_import(id).await?;
        Ok(pb::ReimportInstanceResponse {
            import: finished.import,
        })
    }

    pub(super) async fn delete_instances(
        &self,
        request: Request<pb::DeleteInstancesRequest>,
    ) -> ApiResult<pb::DeleteInstancesResponse> {
        let caller = caller(&request)?;
        // I2: an admin of the master's account.
        caller.require_admin()?;
        let request = request.into_inner();
        idempotency::validate(&request.request_id)?;
        let mut violations = Violations::new();
        let master = asset_ref(&mut violations, "master", request.master.as_ref());
        if request.account_ids.is_empty() {
            violations.add("account_ids", "name at least one account");
        }
        let mut accounts = Vec::new();
        for (i, id) in request.account_ids.iter().enumerate() {
            match Uuid::parse_str(id) {
                Ok(id) if !accounts.contains(&id) => accounts.push(id),
                Ok(_) => {}
                Err(_) => violations.add(format!("account_ids[{i}]"), "must be a UUID"),
            }
        }
        violations.into_result()?;
        let master = master.expect("checked above");
        let scope = idempotency_scope(&caller);
        let mut conn = self.conn().await?;
        if let Some(done) =
            idempotency::replay(&mut conn, &scope, DELETE, &request.request_id).await?
        {
            return Ok(done);
        }
        drop(conn);

        let mut targets = Vec::new();
        for account in &accounts {
            targets.extend(self.links_of(&caller, master, Some(*account)).await?);
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
        // All or nothing: an instance data source that Klips still bind is refused up front.
        if master.kind == AssetKind::DataSource {
            let mut in_use = Vec::new();
            for link in &targets {
                if self
                    .peers
                    .data_source_in_use(link.account_id, link.instance.id)
                    .await
                    .map_err(upstream("library"))?
                {
                    in_use.push(tonic_types::PreconditionViolation::new(
                        "IN_USE",
                        link.instance.subject(),
                        format!(
                            "Klips of account {} bind this instance; delete those Klip instances first",
                            link.account_id
                        ),
                    ));
                }
            }
            if !in_use.is_empty() {
                return Err(ApiError::FailedPrecondition(in_use));
            }
        }
        let prefix = if request.request_id.is_empty() {
            format!("delete/{}", Uuid::now_v7())
        } else {
            let digest = Sha256::digest(format!("{scope}\u{1f}{}", request.request_id));
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
            let mut conn = self.conn().await?;
            links::delete(&mut conn, &gone).await?;
            deleted.extend(removed.into_iter().map(|asset| pb::DeletedInstance {
                instance: Some(asset.to_proto()),
                account_id: link.account_id.to_string(),
            }));
        }
        let response = pb::DeleteInstancesResponse {
            deleted_instances: deleted,
        };
        let mut conn = self.conn().await?;
        Ok(conn
            .transaction::<_, TxError, _>(async |conn| {
                if let Some(done) =
                    idempotency::replay(conn, &scope, DELETE, &request.request_id).await?
                {
                    return Ok(done);
                }
                idempotency::remember(conn, &scope, DELETE, &request.request_id, &response).await?;
                Ok(response)
            })
            .await?)
    }
}
