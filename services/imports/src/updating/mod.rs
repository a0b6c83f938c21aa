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

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::drift::Change;
use crate::domain::link::{KlipDefinition, Link};
use crate::observe::{self, Master};
use crate::peers::{Peers, upstream};
use crate::store::{self, links, updates};

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
    let library_down = upstream("library");
    let master = observe::master(
        peers,
        request.master_account,
        AssetRef::new(AssetKind::Klip, request.master_klip),
    )
    .await
    .map_err(|s| Status::from(library_down(s)))?
    .ok_or_else(|| Status::not_found(format!("Klip {} not found", request.master_klip)))?;
    let master_klip = master.klip.clone().unwrap_or_default();
    let master_account = peers
        .account(request.master_account)
        .await
        .map_err(|s| Status::from(library_down(s)))?
        .unwrap_or_default();
    let variable_defaults = peers
        .variables(request.master_account)
        .await
        .map_err(|s| Status::from(library_down(s)))?
        .into_iter()
        .map(|v| (v.name, v.default_value))
        .collect();
    let mut context = Context {
        peers,
        pool,
        request,
        master_definition: KlipDefinition::from_library(&master_klip),
        master,
        master_account,
        variable_defaults,
        families: HashMap::new(),
    };
    let recorded = if request.request_id.is_empty() || request.dry_run {
        BTreeMap::new()
    } else {
        let mut conn = store::connect(pool).await.map_err(store_failure)?;
        updates::recorded(&mut conn, &request.scope, &request.request_id)
            .await
            .map_err(store_failure)?
    };

    let mut summary = pb::UpdateSummary {
        master_version: context.master.state.version,
        ..Default::default()
    };
    let mut done = 0;
    for batch in request.links.chunks(BATCH) {
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
            match context.prepare(link).await? {
                Ok(update) => pending.push(update),
                Err(outcome) => {
                    fresh.push(results.len());
                    results.push(outcome);
                }
            }
        }
        let mut synced_links = Vec::new();
        if !pending.is_empty() {
            let (outcomes, synced) = context.apply(pending).await?;
            synced_links = synced;
            for outcome in outcomes {
                fresh.push(results.len());
                results.push(outcome);
            }
        }
        if !request.dry_run {
            let rows: Vec<(Uuid, Vec<u8>)> = fresh
                .iter()
                .filter_map(|i| {
                    let r = &results[*i];
                    // A failure is not recorded: a retry tries that instance again.
                    if r.outcome == pb::UpdateOutcome::Failed as i32 {
                        return None;
                    }
                    Some((Uuid::parse_str(&r.instance_id).ok()?, r.encode_to_vec()))
                })
                .collect();
            // The re-synced links and the recorded outcomes land together.
            let mut conn = store::connect(pool).await.map_err(store_failure)?;
            conn.transaction::<_, StoreError, _>(async |conn| {
                links::upsert(conn, &synced_links).await?;
                updates::record(conn, &request.scope, &request.request_id, &rows).await
            })
            .await
            .map_err(store_failure)?;
        }
        for outcome in results {
            match pb::UpdateOutcome::try_from(outcome.outcome) {
                Ok(pb::UpdateOutcome::Updated) => summary.updated += 1,
                Ok(pb::UpdateOutcome::WouldUpdate) => summary.would_update += 1,
                Ok(pb::UpdateOutcome::RequiresReimport) => summary.requires_reimport += 1,
                Ok(pb::UpdateOutcome::Failed) => summary.failed += 1,
                _ => summary.skipped += 1,
            }
            send(sender, Event::Result(outcome)).await;
        }
        done += batch.len() as i32;
        send(sender, Event::Progress(pb::UpdateProgress { done, total })).await;
    }
    send(sender, Event::Summary(summary)).await;
    Ok(())
}
