//! The data cache: the last successful fetch of each instance key.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;

use crate::store::rows::CachedData;
use crate::store::schema::cached_data;

pub async fn get(
    conn: &mut AsyncPgConnection,
    instance_key: &str,
) -> Result<Option<CachedData>, StoreError> {
    Ok(cached_data::table
        .find(instance_key)
        .select(CachedData::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Stores a fetch, unless a newer one is stored already.
pub async fn put(conn: &mut AsyncPgConnection, data: &CachedData) -> Result<(), StoreError> {
    use diesel::sql_types::{BigInt, Jsonb, Text, Timestamptz};
    diesel::sql_query(
        "INSERT INTO cached_data AS c (instance_key, format, data, content_hash, size_bytes, fetch_time)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (instance_key) DO UPDATE SET
             format = EXCLUDED.format, data = EXCLUDED.data, content_hash = EXCLUDED.content_hash,
             size_bytes = EXCLUDED.size_bytes, fetch_time = EXCLUDED.fetch_time
         WHERE c.fetch_time <= EXCLUDED.fetch_time",
    )
    .bind::<Text, _>(&data.instance_key)
    .bind::<Text, _>(&data.format)
    .bind::<Jsonb, _>(&data.data)
    .bind::<Text, _>(&data.content_hash)
    .bind::<BigInt, _>(data.size_bytes)
    .bind::<Timestamptz, _>(data.fetch_time)
    .execute(conn)
    .await?;
    Ok(())
}
