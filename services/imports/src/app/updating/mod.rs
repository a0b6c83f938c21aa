//! Update client instances (I9, I10) and the opt-in data-source push (DESIGN.md section 5).
//!
//! For each instance of a master Klip: an instance whose master now binds a data source it
//! was not given, or whose master data source changed since import, requires re-import and is
//! left untouched (I10), unless `push_data_sources` can push a compatible change first. Every
//! other instance that is outdated or drifted gets the master's current definition with its
//! bindings rewritten to its own data sources, keeping its id (I9), which overwrites local
//! edits; a dry run reports what that would overwrite instead. Instances are handled in
//! batches, each applied by the library in one transaction and recorded here in one
//! transaction, with progress streamed to the caller after each batch.
//!
//! Unlike the other use cases this one speaks the wire format (`pb`) itself, and the
//! handler does not wrap it in a remembered answer: the answer is a stream that outlives
//! the handler, and what a retry under the same request id gets is recorded per instance
//! as each batch lands (`update_results`, the encoded `InstanceUpdateResult`s), so a
//! retry after a crash mid-update replays the finished instances and carries on with the
//! rest.

use std::collections::{BTreeMap, HashMap};

use diesel_async::AsyncConnection;
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::Status;
use trellis_platform::db::DbPool;
use trellis_platform::error::StoreError;
use trellis_proto::imports::v1 as pb;
use trellis_proto::imports::v1::update_instances_response::Event;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use crate::api::convert::ToProto;
use crate::app::observe::{self, Master};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::drift::Change;
use crate::domain::link::{KlipDefinition, Link};
use crate::peers::Peers;
use crate::peers::convert;
use crate::store::{links, updates};
use trellis_platform::peer::upstream;

mod apply;
mod prepare;

/// Instances per library transaction and per progress message.
const BATCH: usize = 25;

pub type Sender = mpsc::Sender<Result<pb::UpdateInstancesResponse, Status>>;

/// One UpdateInstances call, authorized and validated.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// Whose request id this is.
    pub scope: String,
    pub request_id: String,
    pub master_account: Uuid,
    pub master_klip: Uuid,
    /// The instances to handle.
    pub links: Vec<Link>,
    pub dry_run: bool,
    pub push_data_sources: bool,
}

/// An instance that will be updated once its batch is applied.
struct Pending {
    link: Link,
    klip: library::KlipDefinitionUpdate,
    target: KlipDefinition,
    sources: Vec<SourcePush>,
    changes: Vec<Change>,
}

/// A master data source's definition pushed to an instance data source.
#[derive(Clone)]
struct SourcePush {
    master: library::DataSource,
    update: library::DataSourceDefinitionUpdate,
}

/// Runs the update and streams its messages to `sender`; the work goes on if the caller
/// leaves, so that no batch is cut in half.
pub async fn run(peers: Peers, pool: DbPool, request: UpdateRequest, sender: Sender) {
    if let Err(status) = update(&peers, &pool, &request, &sender).await {
        let _ = sender.send(Err(status)).await;
    }
}

async fn send(sender: &Sender, event: Event) {
    // A caller that went away stops reading; the update still completes.
    let _ = sender
        .send(Ok(pb::UpdateInstancesResponse { event: Some(event) }))
        .await;
}

fn store_failure(error: StoreError) -> Status {
    trellis_platform::error::ApiError::from(error).into()
}

fn result(link: &Link, outcome: pb::UpdateOutcome, reason: String) -> pb::InstanceUpdateResult {
    pb::InstanceUpdateResult {
        instance_id: link.instance.id.to_string(),
        account_id: link.account_id.to_string(),
        outcome: outcome as i32,
        reason,
        ..Default::default()
    }
}

/// An update (or, in a dry run, what it would do) with the changes it makes and the data
/// sources it pushes.
fn reported(
    link: &Link,
    outcome: pb::UpdateOutcome,
    changes: &[Change],
    sources: &[SourcePush],
) -> pb::InstanceUpdateResult {
    pb::InstanceUpdateResult {
        changes: changes.iter().map(ToProto::to_proto).collect(),
        data_sources_pushed: sources
            .iter()
            .map(|s| s.update.data_source_id.clone())
            .collect(),
        ..result(link, outcome, String::new())
    }
}

/// A request id for one batch call to the library: the same batch of the same call gets the
/// same id, so a retry after a crash replays instead of applying twice.
fn batch_request_id(request: &UpdateRequest, what: &str, ids: &[String]) -> String {
    if request.request_id.is_empty() {
        return format!("update/{}", Uuid::now_v7());
    }
    let mut hash = Sha256::new();
    for part in [request.scope.as_str(), request.request_id.as_str(), what] {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    for id in ids {
        hash.update(id.as_bytes());
        hash.update([0x1f]);
    }
    format!("update/{}", hex::encode(&hash.finalize()[..16]))
}

struct Context<'a> {
    peers: &'a Peers,
    pool: &'a DbPool,
    request: &'a UpdateRequest,
    master: Master,
    master_definition: KlipDefinition,
    master_account: library::Account,
    variable_defaults: HashMap<String, String>,
    families: HashMap<Uuid, bool>,
}

async fn update(
    peers: &Peers,
    pool: &DbPool,
    request: &UpdateRequest,
    sender: &Sender,
) -> Result<(), Status> {
    let total = request.links.len() as i32;
    send(
        sender,
        Event::Progress(pb::UpdateProgress { done: 0, total }),
    )
    .await;
    if request.links.is_empty() && request.master_account.is_nil() {
        // A service caller naming a master without instances: nothing to read or do.
        send(sender, Event::Summary(pb::UpdateSummary::default())).await;
        return Ok(());
    }
    let mut context = Context::load(peers, pool, request).await?;
    let recorded = recorded(pool, request).await.map_err(store_failure)?;
    let mut summary = pb::UpdateSummary {
        master_version: context.master.state.version,
        ..Default::default()
    };
    let mut done = 0;
    for batch in request.links.chunks(BATCH) {
        for outcome in context.batch(batch, &recorded).await? {
            count(&mut summary, &outcome);
            send(sender, Event::Result(outcome)).await;
        }
        done += batch.len() as i32;
        send(sender, Event::Progress(pb::UpdateProgress { done, total })).await;
    }
    send(sender, Event::Summary(summary)).await;
    Ok(())
}

/// What an earlier call under the same request id did, by instance (nothing for a dry run
/// or a call without a request id).
async fn recorded(
    pool: &DbPool,
    request: &UpdateRequest,
) -> Result<BTreeMap<Uuid, Vec<u8>>, StoreError> {
    if request.request_id.is_empty() || request.dry_run {
        return Ok(BTreeMap::new());
    }
    let mut conn = trellis_platform::db::connect(pool).await?;
    updates::recorded(&mut conn, &request.scope, &request.request_id).await
}

fn count(summary: &mut pb::UpdateSummary, outcome: &pb::InstanceUpdateResult) {
    match pb::UpdateOutcome::try_from(outcome.outcome) {
        Ok(pb::UpdateOutcome::Updated) => summary.updated += 1,
        Ok(pb::UpdateOutcome::WouldUpdate) => summary.would_update += 1,
        Ok(pb::UpdateOutcome::RequiresReimport) => summary.requires_reimport += 1,
        Ok(pb::UpdateOutcome::Failed) => summary.failed += 1,
        _ => summary.skipped += 1,
    }
}

impl<'a> Context<'a> {
    /// The master Klip, its account and variable defaults, read once per update.
    async fn load(
        peers: &'a Peers,
        pool: &'a DbPool,
        request: &'a UpdateRequest,
    ) -> Result<Self, Status> {
        let library_down = |s| Status::from(upstream("library")(s));
        let klip = AssetRef::new(AssetKind::Klip, request.master_klip);
        let master = observe::master(peers, request.master_account, klip)
            .await
            .map_err(library_down)?
            .ok_or_else(|| Status::not_found(format!("Klip {} not found", request.master_klip)))?;
        let master_definition = convert::klip_definition(&master.klip.clone().unwrap_or_default());
        let master_account = peers
            .account(request.master_account)
            .await
            .map_err(library_down)?
            .unwrap_or_default();
        let variable_defaults = peers
            .variables(request.master_account)
            .await
            .map_err(library_down)?
            .into_iter()
            .map(|v| (v.name, v.default_value))
            .collect();
        Ok(Self {
            peers,
            pool,
            request,
            master_definition,
            master,
            master_account,
            variable_defaults,
            families: HashMap::new(),
        })
    }

    /// One batch: the results recorded under the request id as they were, the others
    /// prepared, applied and recorded now; in the batch's order.
    async fn batch(
        &mut self,
        batch: &[Link],
        recorded: &BTreeMap<Uuid, Vec<u8>>,
    ) -> Result<Vec<pb::InstanceUpdateResult>, Status> {
        let mut results: Vec<pb::InstanceUpdateResult> = Vec::with_capacity(batch.len());
        let mut fresh: Vec<usize> = Vec::new();
        let mut pending = Vec::new();
        for link in batch {
            if let Some(stored) = recorded.get(&link.instance.id)
                && let Ok(previous) = pb::InstanceUpdateResult::decode(stored.as_slice())
            {
                results.push(previous);
                continue;
            }
            match self.prepare(link).await? {
                Ok(update) => pending.push(update),
                Err(outcome) => {
                    fresh.push(results.len());
                    results.push(outcome);
                }
            }
        }
        let mut synced = Vec::new();
        if !pending.is_empty() {
            let (outcomes, links) = self.apply(pending).await?;
            synced = links;
            for outcome in outcomes {
                fresh.push(results.len());
                results.push(outcome);
            }
        }
        if !self.request.dry_run {
            let fresh: Vec<&pb::InstanceUpdateResult> =
                fresh.iter().map(|i| &results[*i]).collect();
            self.record(&synced, &fresh).await.map_err(store_failure)?;
        }
        Ok(results)
    }

    /// The re-synced links and the new outcomes land together, in one transaction. A
    /// failure is not recorded: a retry tries that instance again.
    async fn record(
        &self,
        synced: &[Link],
        fresh: &[&pb::InstanceUpdateResult],
    ) -> Result<(), StoreError> {
        let rows: Vec<(Uuid, Vec<u8>)> = fresh
            .iter()
            .filter(|r| r.outcome != pb::UpdateOutcome::Failed as i32)
            .filter_map(|r| Some((Uuid::parse_str(&r.instance_id).ok()?, r.encode_to_vec())))
            .collect();
        let (scope, request_id) = (&self.request.scope, &self.request.request_id);
        let mut conn = trellis_platform::db::connect(self.pool).await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            links::upsert(conn, synced).await?;
            updates::record(conn, scope, request_id, &rows).await
        })
        .await
    }
}
