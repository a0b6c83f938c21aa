//! CloneAssets (I5, I7): copies a closed set of assets into another account of the family in
//! one transaction, idempotently under the caller's request id.

use std::collections::{BTreeMap, BTreeSet};

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::library::v1 as pb;
use uuid::Uuid;

use super::closure::{asset_refs, kind_to_proto};
use crate::domain::asset::{AssetKind, AssetRef, Selection};
use crate::domain::clone::ClonePlan;
use crate::domain::closure::{AssetGraph, Closure};
use crate::store::variables::NewVariable;
use crate::store::{accounts, dashboards, data_sources, graph, klips, variables};

pub async fn clone(
    pool: &DbPool,
    caller: &Caller,
    request: pb::CloneAssetsRequest,
) -> ApiResult<pb::CloneAssetsResponse> {
    caller.require_service()?;
    if request.request_id.is_empty() {
        return Err(ApiError::invalid("request_id", "is required"));
    }
    let source = fields::id("source_account_id", &request.source_account_id)?;
    let destination = fields::id("destination_account_id", &request.destination_account_id)?;
    if source == destination {
        return Err(ApiError::invalid(
            "destination_account_id",
            "must differ from the source account",
        ));
    }
    let refs = asset_refs("assets", &request.assets)?;
    if refs.is_empty() {
        return Err(ApiError::invalid("assets", "is required"));
    }
    let reuse = reuse_ids(&request.reuse_ids)?;
    // Scoped by destination, so a restarted import service (with a fresh service token)
    // replays its own earlier clone.
    let key = RequestKey::scoped(
        format!("account:{destination}"),
        "CloneAssets",
        &request.request_id,
    )?;

    let mark = |done: &mut pb::CloneAssetsResponse| done.replayed = true;
    replay::write_marking_replays(pool, &key, mark, async |conn| {
        let from = accounts::get_for_share(conn, source)
            .await?
            .ok_or_else(|| ApiError::not_found("account", source))?;
        let to = accounts::get_for_share(conn, destination)
            .await?
            .ok_or_else(|| ApiError::not_found("account", destination))?;
        if !from.place().same_family(&to.place()) {
            return Err(ApiError::precondition(
                "FAMILY",
                "destination_account_id",
                "assets are cloned only inside one family (I1)",
            ));
        }
        let selection = Selection::from_refs(&refs);
        let graph = graph::load(conn, source, &selection).await?;
        let source_variables = variables::defaults(conn, source).await?;
        let defined: BTreeSet<String> = source_variables.keys().cloned().collect();
        let closure = Closure::compute(&selection, &graph, &defined);
        let plan = ClonePlan::new(&refs, &graph, &closure, &reuse, Uuid::now_v7)?;
        check_reused(conn, destination, &plan).await?;
        copy(conn, destination, &graph, &plan).await?;

        // I4: the variables the copies use, created where the destination lacks them.
        let wanted: Vec<NewVariable<'_>> = closure
            .variables
            .iter()
            .filter_map(|name| source_variables.get(name))
            .map(|v| NewVariable {
                name: &v.name,
                default_value: &v.default_value,
                description: &v.description,
                allowed_values: &v.allowed_values,
            })
            .collect();
        let variables_created = variables::insert_missing(conn, destination, &wanted).await?;

        Ok(pb::CloneAssetsResponse {
            mappings: plan
                .mappings
                .iter()
                .map(|(asset, destination)| pb::IdMapping {
                    kind: kind_to_proto(asset.kind) as i32,
                    source_id: asset.id.to_string(),
                    destination_id: destination.to_string(),
                })
                .collect(),
            variables_created,
            replayed: false,
        })
    })
    .await
}

fn reuse_ids(wire: &std::collections::HashMap<String, String>) -> ApiResult<BTreeMap<Uuid, Uuid>> {
    let mut violations = Violations::new();
    let mut reuse = BTreeMap::new();
    for (source, destination) in wire {
        let field = format!("reuse_ids[{source}]");
        match (Uuid::parse_str(source), Uuid::parse_str(destination)) {
            (Ok(s), Ok(d)) => {
                reuse.insert(s, d);
            }
            _ => violations.add(field, "keys and values must be UUIDs"),
        }
    }
    violations.into_result()?;
    Ok(reuse)
}

/// Every destination id to overwrite must be an asset of the same kind in the destination.
async fn check_reused(
    conn: &mut AsyncPgConnection,
    destination: Uuid,
    plan: &ClonePlan,
) -> ApiResult<()> {
    let mut by_kind: BTreeMap<AssetKind, BTreeSet<Uuid>> = BTreeMap::new();
    for (asset, target) in &plan.mappings {
        if plan.reused.contains(target) {
            by_kind.entry(asset.kind).or_default().insert(*target);
        }
    }
    let mut present = BTreeSet::new();
    for (kind, ids) in &by_kind {
        present.extend(match kind {
            AssetKind::DataSource => data_sources::existing(conn, destination, ids).await?,
            AssetKind::Klip => klips::existing(conn, destination, ids).await?,
            AssetKind::Dashboard => dashboards::existing(conn, destination, ids).await?,
        });
    }
    let mut violations = Violations::new();
    for (asset, target) in &plan.mappings {
        if plan.reused.contains(target) && !present.contains(target) {
            violations.add(
                format!("reuse_ids[{}]", asset.id),
                format!(
                    "no {} {target} in the destination account",
                    asset.kind.noun()
                ),
            );
        }
    }
    violations.into_result()
}

/// Writes the copies: data sources first, so that Klips can bind them, then Klips, then
/// dashboards. Data sources keep their token id (I6, same token identity) and credential
/// id; the import service points the copy at its own credential afterwards (I5).
async fn copy(
    conn: &mut AsyncPgConnection,
    destination: Uuid,
    graph: &AssetGraph,
    plan: &ClonePlan,
) -> ApiResult<()> {
    for (AssetRef { kind, id }, target) in &plan.mappings {
        let reused = plan.reused.contains(target);
        match kind {
            AssetKind::DataSource => {
                let definition = &graph.data_sources[id].definition;
                if reused {
                    data_sources::overwrite(conn, destination, *target, definition).await?;
                } else {
                    data_sources::insert(conn, *target, destination, definition).await?;
                }
            }
            AssetKind::Klip => {
                let klip = &graph.klips[id];
                let definition = plan.klip(&klip.definition);
                if reused {
                    klips::overwrite(conn, destination, *target, &definition, &klip.variables)
                        .await?;
                } else {
                    klips::insert(conn, *target, destination, &definition, &klip.variables).await?;
                }
            }
            AssetKind::Dashboard => {
                let definition = plan.dashboard(&graph.dashboards[id].definition);
                if reused {
                    dashboards::overwrite(conn, destination, *target, &definition).await?;
                } else {
                    dashboards::insert(conn, *target, destination, &definition).await?;
                }
            }
        }
    }
    Ok(())
}
