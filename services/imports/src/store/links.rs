//! `instance_links`: master → instance links (I7, I11).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{from_json, to_json};
use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::link::{BoundSource, KlipDefinition, Link};
use crate::store::schema::instance_links;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = instance_links)]
struct LinkRow {
    instance_id: Uuid,
    kind: AssetKind,
    account_id: Uuid,
    master_id: Uuid,
    master_account_id: Uuid,
    import_id: Uuid,
    import_time: DateTime<Utc>,
    master_version_at_import: i64,
    master_version_synced: i64,
    master_fingerprint: String,
    instance_version_synced: i64,
    details: serde_json::Value,
    last_update_time: Option<DateTime<Utc>>,
    update_time: DateTime<Utc>,
}

/// The `details` column: what only some kinds of link have.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Details {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    data_sources: BTreeMap<Uuid, BoundSource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    klips: BTreeMap<Uuid, Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    synced_definition: Option<KlipDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_grant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credential_copy_id: Option<Uuid>,
}

impl TryFrom<LinkRow> for Link {
    type Error = StoreError;

    fn try_from(row: LinkRow) -> Result<Self, StoreError> {
        let details: Details = from_json(row.details)?;
        Ok(Link {
            instance: AssetRef::new(row.kind, row.instance_id),
            account_id: row.account_id,
            master_id: row.master_id,
            master_account_id: row.master_account_id,
            import_id: row.import_id,
            import_time: row.import_time,
            master_version_at_import: row.master_version_at_import,
            master_version_synced: row.master_version_synced,
            master_fingerprint: row.master_fingerprint,
            instance_version_synced: row.instance_version_synced,
            data_sources: details.data_sources,
            klips: details.klips,
            synced_definition: details.synced_definition,
            token_grant_id: details.token_grant_id,
            credential_copy_id: details.credential_copy_id,
            last_update_time: row.last_update_time,
        })
    }
}

fn row(link: &Link) -> LinkRow {
    LinkRow {
        instance_id: link.instance.id,
        kind: link.instance.kind,
        account_id: link.account_id,
        master_id: link.master_id,
        master_account_id: link.master_account_id,
        import_id: link.import_id,
        import_time: link.import_time,
        master_version_at_import: link.master_version_at_import,
        master_version_synced: link.master_version_synced,
        master_fingerprint: link.master_fingerprint.clone(),
        instance_version_synced: link.instance_version_synced,
        details: to_json(&Details {
            data_sources: link.data_sources.clone(),
            klips: link.klips.clone(),
            synced_definition: link.synced_definition.clone(),
            token_grant_id: link.token_grant_id,
            credential_copy_id: link.credential_copy_id,
        }),
        last_update_time: link.last_update_time,
        update_time: Utc::now(),
    }
}

/// Writes the links, replacing those of the same instances (a re-import in place or an
/// update re-syncs an existing instance).
pub async fn upsert(conn: &mut AsyncPgConnection, links: &[Link]) -> Result<(), StoreError> {
    if links.is_empty() {
        return Ok(());
    }
    let rows: Vec<LinkRow> = links.iter().map(row).collect();
    use instance_links::dsl as l;
    diesel::insert_into(instance_links::table)
        .values(rows)
        .on_conflict(l::instance_id)
        .do_update()
        .set((
            l::kind.eq(excluded(l::kind)),
            l::account_id.eq(excluded(l::account_id)),
            l::master_id.eq(excluded(l::master_id)),
            l::master_account_id.eq(excluded(l::master_account_id)),
            l::import_id.eq(excluded(l::import_id)),
            l::import_time.eq(excluded(l::import_time)),
            l::master_version_at_import.eq(excluded(l::master_version_at_import)),
            l::master_version_synced.eq(excluded(l::master_version_synced)),
            l::master_fingerprint.eq(excluded(l::master_fingerprint)),
            l::instance_version_synced.eq(excluded(l::instance_version_synced)),
            l::details.eq(excluded(l::details)),
            l::last_update_time.eq(excluded(l::last_update_time)),
            l::update_time.eq(excluded(l::update_time)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    instance_id: Uuid,
) -> Result<Option<Link>, StoreError> {
    instance_links::table
        .find(instance_id)
        .select(LinkRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Link::try_from)
        .transpose()
}

pub async fn get_many(
    conn: &mut AsyncPgConnection,
    instance_ids: &[Uuid],
) -> Result<Vec<Link>, StoreError> {
    instance_links::table
        .filter(instance_links::instance_id.eq_any(instance_ids))
        .select(LinkRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(Link::try_from)
        .collect()
}

/// Which instances of a master to list.
#[derive(Debug, Clone, Copy)]
pub struct MasterFilter {
    pub master: AssetRef,
    /// Only links whose master is in this account (the caller's).
    pub master_account: Option<Uuid>,
    /// Only instances in this account.
    pub account: Option<Uuid>,
}

/// The instances of a master by (account, instance), after the key `after`.
pub async fn of_master(
    conn: &mut AsyncPgConnection,
    filter: MasterFilter,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<Link>, StoreError> {
    use instance_links::dsl as l;
    let mut query = instance_links::table
        .filter(l::master_id.eq(filter.master.id))
        .filter(l::kind.eq(filter.master.kind))
        .select(LinkRow::as_select())
        .into_boxed();
    if let Some(master_account) = filter.master_account {
        query = query.filter(l::master_account_id.eq(master_account));
    }
    if let Some(account) = filter.account {
        query = query.filter(l::account_id.eq(account));
    }
    if let Some((after_account, after_instance)) = after {
        query = query.filter(
            l::account_id.gt(after_account).or(l::account_id
                .eq(after_account)
                .and(l::instance_id.gt(after_instance))),
        );
    }
    query
        .order((l::account_id.asc(), l::instance_id.asc()))
        .limit(limit)
        .load(conn)
        .await?
        .into_iter()
        .map(Link::try_from)
        .collect()
}

/// The instances in `account` of any of `masters`.
pub async fn in_account(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    masters: &[Uuid],
) -> Result<Vec<Link>, StoreError> {
    instance_links::table
        .filter(instance_links::account_id.eq(account))
        .filter(instance_links::master_id.eq_any(masters))
        .select(LinkRow::as_select())
        .order(instance_links::instance_id.asc())
        .load(conn)
        .await?
        .into_iter()
        .map(Link::try_from)
        .collect()
}

pub async fn delete(conn: &mut AsyncPgConnection, instance_ids: &[Uuid]) -> Result<(), StoreError> {
    if instance_ids.is_empty() {
        return Ok(());
    }
    diesel::delete(instance_links::table.filter(instance_links::instance_id.eq_any(instance_ids)))
        .execute(conn)
        .await?;
    Ok(())
}
