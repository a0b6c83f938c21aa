//! Data-source instances: their schedule (F1, F2) and failure state (F8), and queueing the
//! due ones.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::domain::job::{InstanceId, ResolvedInstance, Trigger};
use crate::store::rows::Instance;
use crate::store::schema::instances;

/// When an instance is next due, from its own columns: never while disabled, the end of
/// its backoff while backing off (F8), never without a refresh interval, now when it was
/// never fetched, else a refresh interval after the last fetch (F1).
pub const NEXT_DUE: &str = "CASE
        WHEN i.disabled THEN NULL
        WHEN i.backoff_until IS NOT NULL AND i.backoff_until > now() THEN i.backoff_until
        WHEN i.refresh_interval_ms <= 0 THEN NULL
        WHEN i.last_fetch_time IS NULL THEN now()
        ELSE i.last_fetch_time + i.refresh_interval_ms * interval '1 millisecond'
    END";

/// Records what the library resolved, creating instances seen for the first time and
/// updating the definition of known ones (which may move their next due time).
pub async fn upsert_resolved(
    conn: &mut AsyncPgConnection,
    resolved: &[ResolvedInstance],
) -> Result<(), StoreError> {
    if resolved.is_empty() {
        return Ok(());
    }
    let mut ds = Vec::new();
    let mut keys = Vec::new();
    let mut accounts = Vec::new();
    let mut users = Vec::new();
    let mut urls = Vec::new();
    let mut versions = Vec::new();
    let mut intervals = Vec::new();
    for r in resolved {
        ds.push(r.id.data_source_id);
        keys.push(r.id.instance_key.clone());
        accounts.push(r.account_id);
        users.push(r.resolve_user_id.clone());
        urls.push(r.url.clone());
        versions.push(r.data_source_version);
        intervals.push(r.refresh_interval_ms);
    }
    diesel::sql_query(
        "INSERT INTO instances AS i (data_source_id, instance_key, account_id, resolve_user_id,
                                     url, data_source_version, refresh_interval_ms)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],
                              $6::int8[], $7::int8[])
         ON CONFLICT (data_source_id, instance_key) DO UPDATE SET
             account_id = EXCLUDED.account_id,
             resolve_user_id = EXCLUDED.resolve_user_id,
             url = EXCLUDED.url,
             data_source_version = EXCLUDED.data_source_version,
             refresh_interval_ms = EXCLUDED.refresh_interval_ms",
    )
    .bind::<Array<SqlUuid>, _>(&ds)
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<SqlUuid>, _>(accounts)
    .bind::<Array<Text>, _>(users)
    .bind::<Array<Text>, _>(urls)
    .bind::<Array<BigInt>, _>(versions)
    .bind::<Array<BigInt>, _>(intervals)
    .execute(conn)
    .await?;
    refresh_next_due(conn, &ds, &keys).await
}

/// Recomputes the next due time of the given instances from their columns.
async fn refresh_next_due(
    conn: &mut AsyncPgConnection,
    ds: &[Uuid],
    keys: &[String],
) -> Result<(), StoreError> {
    diesel::sql_query(format!(
        "UPDATE instances AS i SET next_due_time = {NEXT_DUE}
         FROM unnest($1::uuid[], $2::text[]) AS u(data_source_id, instance_key)
         WHERE i.data_source_id = u.data_source_id AND i.instance_key = u.instance_key"
    ))
    .bind::<Array<SqlUuid>, _>(ds)
    .bind::<Array<Text>, _>(keys)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    id: &InstanceId,
) -> Result<Option<Instance>, StoreError> {
    Ok(instances::table
        .find((id.data_source_id, &id.instance_key))
        .select(Instance::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Every known instance of a data source in an account.
pub async fn of_data_source(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    data_source_id: Uuid,
) -> Result<Vec<Instance>, StoreError> {
    Ok(instances::table
        .filter(instances::account_id.eq(account_id))
        .filter(instances::data_source_id.eq(data_source_id))
        .order(instances::instance_key.asc())
        .select(Instance::as_select())
        .load(conn)
        .await?)
}

/// Queues those of `wanted` (instances of `account_id`) that are due or past due and not
/// queued yet, in the given order (F1), each remembering `trace_context` (the queueing call's
/// trace). Returns the ids of the jobs queued.
pub async fn enqueue_due(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    wanted: &[InstanceId],
    trigger: Trigger,
    trace_context: Option<&serde_json::Value>,
) -> Result<Vec<Uuid>, StoreError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Queued {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let (ds, keys): (Vec<Uuid>, Vec<String>) = wanted
        .iter()
        .map(|w| (w.data_source_id, w.instance_key.clone()))
        .unzip();
    let queued: Vec<Queued> = diesel::sql_query(
        "INSERT INTO refresh_jobs (id, data_source_id, account_id, instance_key, resolve_user_id,
                                   trigger, state, trace_context)
         SELECT gen_random_uuid(), i.data_source_id, i.account_id, i.instance_key,
                i.resolve_user_id, $4, 'queued', $5
         FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS wanted(data_source_id, instance_key, ord)
         JOIN instances i ON i.data_source_id = wanted.data_source_id
                         AND i.instance_key = wanted.instance_key
         WHERE i.account_id = $3 AND NOT i.disabled AND i.next_due_time <= now()
         ORDER BY wanted.ord
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind::<Array<SqlUuid>, _>(ds)
    .bind::<Array<Text>, _>(keys)
    .bind::<SqlUuid, _>(account_id)
    .bind::<Text, _>(trigger.as_str())
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Jsonb>, _>(trace_context)
    .load(conn)
    .await?;
    Ok(queued.into_iter().map(|q| q.id).collect())
}

/// Queues the due instances of every active account that are not queued yet, the longest
/// overdue first (F2); inactive accounts get nothing. Returns how many were queued.
pub async fn enqueue_due_of_active_accounts(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::sql_query(
        "INSERT INTO refresh_jobs (id, data_source_id, account_id, instance_key, resolve_user_id,
                                   trigger, state)
         SELECT gen_random_uuid(), i.data_source_id, i.account_id, i.instance_key,
                i.resolve_user_id, 'schedule', 'queued'
         FROM account_activity a
         JOIN instances i ON i.account_id = a.account_id
         WHERE a.active_until > now()
           AND NOT i.disabled AND i.next_due_time <= now()
           AND NOT EXISTS (
               SELECT 1 FROM refresh_jobs j
               WHERE j.data_source_id = i.data_source_id AND j.instance_key = i.instance_key
                 AND j.state IN ('queued', 'deferred', 'running')
           )
         ORDER BY i.next_due_time
         LIMIT $1
         ON CONFLICT DO NOTHING",
    )
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await?)
}

/// Re-enables an instance disabled by failures (F8), keeping its failure count: one more
/// failure disables it again, a success clears it.
pub async fn re_enable(conn: &mut AsyncPgConnection, id: &InstanceId) -> Result<(), StoreError> {
    diesel::update(instances::table.find((id.data_source_id, &id.instance_key)))
        .set((
            instances::disabled.eq(false),
            instances::backoff_until.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(conn)
        .await?;
    refresh_next_due(
        conn,
        &[id.data_source_id],
        std::slice::from_ref(&id.instance_key),
    )
    .await
}

/// Forgets an instance whose data source no longer exists or no longer resolves to it.
pub async fn retire(conn: &mut AsyncPgConnection, id: &InstanceId) -> Result<(), StoreError> {
    diesel::delete(instances::table.find((id.data_source_id, &id.instance_key)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Every known instance of an account, the longest due first.
pub async fn known_of_account(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
) -> Result<Vec<InstanceId>, StoreError> {
    Ok(instances::table
        .filter(instances::account_id.eq(account_id))
        .order(instances::next_due_time.asc().nulls_last())
        .select((instances::data_source_id, instances::instance_key))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .map(|(data_source_id, instance_key)| InstanceId {
            data_source_id,
            instance_key,
        })
        .collect())
}
