//! `imports`: the sagas, their state and progress.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::{from_json, to_json};
use crate::domain::import::{Import, ImportKind, ImportState};
use crate::domain::spec::ImportProgress;
use crate::store::schema::imports;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = imports)]
struct ImportRow {
    id: Uuid,
    kind: ImportKind,
    plan_id: Option<Uuid>,
    destination_account_id: Uuid,
    source_account_id: Uuid,
    state: ImportState,
    spec: serde_json::Value,
    progress: serde_json::Value,
    error: String,
    attempts: i32,
    next_attempt_time: DateTime<Utc>,
    creator_user_id: String,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
    end_time: Option<DateTime<Utc>>,
}

impl TryFrom<ImportRow> for Import {
    type Error = StoreError;

    fn try_from(row: ImportRow) -> Result<Self, StoreError> {
        Ok(Import {
            id: row.id,
            kind: row.kind,
            plan_id: row.plan_id,
            destination_account_id: row.destination_account_id,
            source_account_id: row.source_account_id,
            state: row.state,
            spec: from_json(row.spec)?,
            progress: from_json(row.progress)?,
            error: row.error,
            attempts: row.attempts,
            next_attempt_time: row.next_attempt_time,
            creator_user_id: row.creator_user_id,
            create_time: row.create_time,
            update_time: row.update_time,
            end_time: row.end_time,
        })
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, import: &Import) -> Result<(), StoreError> {
    diesel::insert_into(imports::table)
        .values(ImportRow {
            id: import.id,
            kind: import.kind,
            plan_id: import.plan_id,
            destination_account_id: import.destination_account_id,
            source_account_id: import.source_account_id,
            state: import.state,
            spec: to_json(&import.spec),
            progress: to_json(&import.progress),
            error: import.error.clone(),
            attempts: import.attempts,
            next_attempt_time: import.next_attempt_time,
            creator_user_id: import.creator_user_id.clone(),
            create_time: import.create_time,
            update_time: import.update_time,
            end_time: import.end_time,
        })
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Import>, StoreError> {
    imports::table
        .find(id)
        .select(ImportRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Import::try_from)
        .transpose()
}

/// Which imports a list shows: into `destination`, out of `source`, or either when both are
/// set (a caller who is a member of either sees both directions).
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportFilter {
    pub destination: Option<Uuid>,
    pub source: Option<Uuid>,
}

/// Newest first (ids are UUIDv7), starting after `before`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: ImportFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Import>, StoreError> {
    let mut query = imports::table.select(ImportRow::as_select()).into_boxed();
    if let Some(destination) = filter.destination {
        query = query.filter(imports::destination_account_id.eq(destination));
    }
    if let Some(source) = filter.source {
        query = query.filter(imports::source_account_id.eq(source));
    }
    if let Some(before) = before {
        query = query.filter(imports::id.lt(before));
    }
    query
        .order(imports::id.desc())
        .limit(limit)
        .load(conn)
        .await?
        .into_iter()
        .map(Import::try_from)
        .collect()
}

/// Moves the import from one of `from` to `to`, recording `progress` and `error`; false
/// when it was no longer in one of `from` (another driver moved it on).
pub async fn advance(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    from: &[ImportState],
    to: ImportState,
    progress: &ImportProgress,
    error: &str,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let updated = diesel::update(
        imports::table
            .filter(imports::id.eq(id))
            .filter(imports::state.eq_any(from)),
    )
    .set((
        imports::state.eq(to),
        imports::progress.eq(to_json(progress)),
        imports::error.eq(error),
        imports::update_time.eq(now),
        imports::end_time.eq(to.is_finished().then_some(now)),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Notes a transient failure: the recovery loop tries again at `next_attempt_time`.
pub async fn postpone(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    error: &str,
    next_attempt_time: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(imports::table.find(id))
        .set((
            imports::attempts.eq(imports::attempts + 1),
            imports::error.eq(error),
            imports::next_attempt_time.eq(next_attempt_time),
            imports::update_time.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Unfinished imports due for another attempt (all of them when `due` is none), oldest
/// first.
pub async fn unfinished(
    conn: &mut AsyncPgConnection,
    due: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let mut query = imports::table
        .filter(imports::state.eq_any(ImportState::UNFINISHED))
        .select(imports::id)
        .into_boxed();
    if let Some(due) = due {
        query = query.filter(imports::next_attempt_time.le(due));
    }
    Ok(query
        .order(imports::next_attempt_time.asc())
        .limit(limit)
        .load(conn)
        .await?)
}
