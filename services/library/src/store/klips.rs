//! Klips and their bindings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::corrupt;
use super::schema::{klip_bindings as kb, klips};
use crate::domain::klip::{Component, KlipDefinition};
use crate::domain::stored::Klip;

#[derive(Queryable, Selectable)]
#[diesel(table_name = klips, check_for_backend(diesel::pg::Pg))]
struct KlipRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    components: serde_json::Value,
    variables: Vec<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn klip(row: KlipRow, bindings: Vec<Option<Uuid>>) -> Result<Klip, StoreError> {
    let components = serde_json::from_value::<Vec<Component>>(row.components)
        .map_err(|_| corrupt(format!("components of Klip {}", row.id)))?;
    Ok(Klip {
        id: row.id,
        account_id: row.account_id,
        definition: KlipDefinition {
            name: row.name,
            components,
            bindings,
        },
        variables: row.variables,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Attaches their bindings to `rows`, keeping the rows' order.
async fn with_bindings(
    conn: &mut AsyncPgConnection,
    rows: Vec<KlipRow>,
) -> Result<Vec<Klip>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut bindings: BTreeMap<Uuid, Vec<Option<Uuid>>> = BTreeMap::new();
    if !ids.is_empty() {
        let loaded: Vec<(Uuid, Option<Uuid>)> = kb::table
            .filter(kb::klip_id.eq_any(&ids))
            .select((kb::klip_id, kb::data_source_id))
            .order((kb::klip_id, kb::position))
            .load(conn)
            .await?;
        for (klip_id, data_source) in loaded {
            bindings.entry(klip_id).or_default().push(data_source);
        }
    }
    rows.into_iter()
        .map(|row| {
            let bound = bindings.remove(&row.id).unwrap_or_default();
            klip(row, bound)
        })
        .collect()
}

async fn write_bindings(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    bindings: &[Option<Uuid>],
) -> Result<(), StoreError> {
    diesel::delete(kb::table.filter(kb::klip_id.eq(id)))
        .execute(conn)
        .await?;
    if bindings.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = bindings
        .iter()
        .enumerate()
        .map(|(position, data_source)| {
            (
                kb::klip_id.eq(id),
                kb::account_id.eq(account),
                kb::position.eq(position as i32),
                kb::data_source_id.eq(*data_source),
            )
        })
        .collect();
    diesel::insert_into(kb::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

fn components_json(definition: &KlipDefinition) -> serde_json::Value {
    serde_json::to_value(&definition.components).expect("components serialize")
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    account: Uuid,
    definition: &KlipDefinition,
    variables: &[String],
) -> Result<Klip, StoreError> {
    let row: KlipRow = diesel::insert_into(klips::table)
        .values((
            klips::id.eq(id),
            klips::account_id.eq(account),
            klips::name.eq(&definition.name),
            klips::components.eq(components_json(definition)),
            klips::variables.eq(variables),
        ))
        .returning(KlipRow::as_returning())
        .get_result(conn)
        .await?;
    write_bindings(conn, account, id, &definition.bindings).await?;
    klip(row, definition.bindings.clone())
}

/// Writes a new definition over the Klip; its version grows.
pub async fn overwrite(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: Uuid,
    definition: &KlipDefinition,
    variables: &[String],
) -> Result<Klip, StoreError> {
    let row: KlipRow = diesel::update(
        klips::table
            .filter(klips::id.eq(id))
            .filter(klips::account_id.eq(account)),
    )
    .set((
        klips::name.eq(&definition.name),
        klips::components.eq(components_json(definition)),
        klips::variables.eq(variables),
        klips::version.eq(klips::version + 1),
        klips::updated_at.eq(diesel::dsl::now),
    ))
    .returning(KlipRow::as_returning())
    .get_result(conn)
    .await?;
    write_bindings(conn, account, id, &definition.bindings).await?;
    klip(row, definition.bindings.clone())
}

/// Counts a change the Klips did not make themselves (a bound data source deleted with
/// force): their versions grow.
pub async fn touch(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(klips::table.filter(klips::id.eq_any(ids)))
        .set((
            klips::version.eq(klips::version + 1),
            klips::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The Klips binding a data source.
pub async fn binding(
    conn: &mut AsyncPgConnection,
    data_source: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(kb::table
        .filter(kb::data_source_id.eq(data_source))
        .select(kb::klip_id)
        .distinct()
        .order(kb::klip_id)
        .load(conn)
        .await?)
}

asset_rows!(klips, KlipRow, Klip, with_bindings);
related_list!(klips, KlipRow, Klip, with_bindings, kb: data_source_id => klip_id);
