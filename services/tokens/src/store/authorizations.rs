//! Pending authorizations: the state and PKCE verifier between Begin and Complete.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::schema::pending_authorizations;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_authorizations)]
pub struct PendingRow {
    /// SHA-256 of the state: the state itself is never stored.
    pub state_hash: Vec<u8>,
    pub account_id: Uuid,
    pub provider_id: Uuid,
    pub token_id: Option<Uuid>,
    pub display_name: String,
    pub redirect_uri: String,
    /// Sealed, bound to `pending_authorizations.pkce_verifier` and the hex state hash.
    pub pkce_verifier: Vec<u8>,
    pub expire_time: DateTime<Utc>,
    pub create_time: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &PendingRow) -> Result<(), StoreError> {
    diesel::insert_into(pending_authorizations::table)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes and returns the pending authorization of `state_hash`: a state is used once,
/// whether or not it has expired.
pub async fn take(
    conn: &mut AsyncPgConnection,
    state_hash: &[u8],
) -> Result<Option<PendingRow>, StoreError> {
    Ok(
        diesel::delete(pending_authorizations::table.find(state_hash))
            .returning(PendingRow::as_returning())
            .get_result(conn)
            .await
            .optional()?,
    )
}

/// Forgets authorizations that expired before `now`.
pub async fn purge_expired(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        pending_authorizations::table.filter(pending_authorizations::expire_time.lt(now)),
    )
    .execute(conn)
    .await?)
}
