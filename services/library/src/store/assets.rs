//! Reads of many assets of any accounts at once (BatchGetAssets): one query per kind.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::{dashboards, data_sources, klip_bindings as kb, klips};

/// What a batch read returns of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSummary {
    pub account_id: Uuid,
    pub version: i64,
    /// Data sources only; empty otherwise.
    pub fingerprint: String,
    /// Klips only: the bound data sources in binding order; empty otherwise.
    pub data_source_ids: Vec<Uuid>,
}

/// The Klips among `ids` that exist, by id, with their bindings.
pub async fn klips(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, AssetSummary>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, Uuid, i64)> = klips::table
        .filter(klips::id.eq_any(ids))
        .select((klips::id, klips::account_id, klips::version))
        .load(conn)
        .await?;
    let mut found: BTreeMap<Uuid, AssetSummary> = rows
        .into_iter()
        .map(|(id, account_id, version)| {
            (
                id,
                AssetSummary {
                    account_id,
                    version,
                    fingerprint: String::new(),
                    data_source_ids: Vec::new(),
                },
            )
        })
        .collect();
    let bindings: Vec<(Uuid, Option<Uuid>)> = kb::table
        .filter(kb::klip_id.eq_any(ids))
        .order((kb::klip_id, kb::position))
        .select((kb::klip_id, kb::data_source_id))
        .load(conn)
        .await?;
    for (klip, source) in bindings {
        if let (Some(summary), Some(source)) = (found.get_mut(&klip), source) {
            summary.data_source_ids.push(source);
        }
    }
    Ok(found)
}

/// The data sources among `ids` that exist, by id.
pub async fn data_sources(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, AssetSummary>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, Uuid, i64, String)> = data_sources::table
        .filter(data_sources::id.eq_any(ids))
        .select((
            data_sources::id,
            data_sources::account_id,
            data_sources::version,
            data_sources::fingerprint,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, account_id, version, fingerprint)| {
            (
                id,
                AssetSummary {
                    account_id,
                    version,
                    fingerprint,
                    data_source_ids: Vec::new(),
                },
            )
        })
        .collect())
}

/// The dashboards among `ids` that exist, by id.
pub async fn dashboards(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, AssetSummary>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, Uuid, i64)> = dashboards::table
        .filter(dashboards::id.eq_any(ids))
        .select((dashboards::id, dashboards::account_id, dashboards::version))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, account_id, version)| {
            (
                id,
                AssetSummary {
                    account_id,
                    version,
                    fingerprint: String::new(),
                    data_source_ids: Vec::new(),
                },
            )
        })
        .collect())
}

/// An asset by name, for choosing what to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAsset {
    pub kind: crate::domain::asset::AssetKind,
    pub id: Uuid,
    pub name: String,
    pub version: i64,
}

/// The account's dashboards, Klips and data sources (at most `limit` of each), in that
/// order, each kind in creation order.
pub async fn named(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    limit: i64,
) -> Result<Vec<NamedAsset>, StoreError> {
    use crate::domain::asset::AssetKind;
    // The same query over each asset table.
    macro_rules! names {
        ($table:ident) => {
            $table::table
                .filter($table::account_id.eq(account))
                .select(($table::id, $table::name, $table::version))
                .order($table::id)
                .limit(limit)
                .load::<(Uuid, String, i64)>(conn)
                .await?
        };
    }
    let kinds = [
        (AssetKind::Dashboard, names!(dashboards)),
        (AssetKind::Klip, names!(klips)),
        (AssetKind::DataSource, names!(data_sources)),
    ];
    Ok(kinds
        .into_iter()
        .flat_map(|(kind, rows)| {
            rows.into_iter().map(move |(id, name, version)| NamedAsset {
                kind,
                id,
                name,
                version,
            })
        })
        .collect())
}
