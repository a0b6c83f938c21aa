//! `update_results`: what an UpdateInstances call under a request id did to each instance,
//! so that a retry reports it instead of updating again.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::schema::update_results;

pub async fn recorded(
    conn: &mut AsyncPgConnection,
    scope: &str,
    request_id: &str,
) -> Result<BTreeMap<Uuid, Vec<u8>>, StoreError> {
    Ok(update_results::table
        .filter(update_results::scope.eq(scope))
        .filter(update_results::request_id.eq(request_id))
        .select((update_results::instance_id, update_results::result))
        .load::<(Uuid, Vec<u8>)>(conn)
        .await?
        .into_iter()
        .collect())
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    scope: &str,
    request_id: &str,
    results: &[(Uuid, Vec<u8>)],
) -> Result<(), StoreError> {
    if request_id.is_empty() || results.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = results
        .iter()
        .map(|(instance, result)| {
            (
                update_results::scope.eq(scope),
                update_results::request_id.eq(request_id),
                update_results::instance_id.eq(*instance),
                update_results::result.eq(result.clone()),
            )
        })
        .collect();
    diesel::insert_into(update_results::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}
