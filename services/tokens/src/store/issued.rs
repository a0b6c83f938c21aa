//! The T2 ledger: tokens a provider issued to one external user through Trellis's client,
//! oldest first, while the provider presumably keeps them.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use crate::store::schema::issued_tokens;

/// Serialises changes to one external user's count until the transaction ends.
pub async fn lock_user(
    conn: &mut AsyncPgConnection,
    provider_id: Uuid,
    external_user_id: &str,
) -> Result<(), StoreError> {
    super::lock(
        conn,
        &format!("tokens.issued/{provider_id}/{external_user_id}"),
    )
    .await
}

/// Records a token issued for `token_id`; the token's previous provider token, if any, stays
/// counted but is no longer its current one.
pub async fn record(
    conn: &mut AsyncPgConnection,
    provider_id: Uuid,
    external_user_id: &str,
    token_id: Uuid,
) -> Result<(), StoreError> {
    diesel::update(issued_tokens::table.filter(issued_tokens::token_id.eq(token_id)))
        .set(issued_tokens::current.eq(false))
        .execute(conn)
        .await?;
    diesel::insert_into(issued_tokens::table)
        .values((
            issued_tokens::provider_id.eq(provider_id),
            issued_tokens::external_user_id.eq(external_user_id),
            issued_tokens::token_id.eq(Some(token_id)),
            issued_tokens::current.eq(true),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn count(
    conn: &mut AsyncPgConnection,
    provider_id: Uuid,
    external_user_id: &str,
) -> Result<i64, StoreError> {
    Ok(issued_tokens::table
        .filter(issued_tokens::provider_id.eq(provider_id))
        .filter(issued_tokens::external_user_id.eq(external_user_id))
        .count()
        .get_result(conn)
        .await?)
}

/// Drops the `excess` oldest entries (the provider has dropped them) and returns the Trellis
/// tokens whose current provider token was among them.
pub async fn drop_oldest(
    conn: &mut AsyncPgConnection,
    provider_id: Uuid,
    external_user_id: &str,
    excess: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let oldest: Vec<(i64, Option<Uuid>, bool)> = issued_tokens::table
        .filter(issued_tokens::provider_id.eq(provider_id))
        .filter(issued_tokens::external_user_id.eq(external_user_id))
        .order(issued_tokens::id)
        .limit(excess)
        .select((
            issued_tokens::id,
            issued_tokens::token_id,
            issued_tokens::current,
        ))
        .load(conn)
        .await?;
    let ids: Vec<i64> = oldest.iter().map(|(id, _, _)| *id).collect();
    diesel::delete(issued_tokens::table.filter(issued_tokens::id.eq_any(&ids)))
        .execute(conn)
        .await?;
    Ok(oldest
        .into_iter()
        .filter_map(|(_, token, current)| token.filter(|_| current))
        .collect())
}

/// Forgets a token's entries once the provider no longer keeps them (revoked, or refused
/// with invalid_grant). Without that, a deleted token's entries stay counted with no token.
pub async fn forget(
    conn: &mut AsyncPgConnection,
    token_id: Uuid,
    provider_dropped_them: bool,
) -> Result<(), StoreError> {
    let entries = issued_tokens::table.filter(issued_tokens::token_id.eq(token_id));
    if provider_dropped_them {
        diesel::delete(entries).execute(conn).await?;
    } else {
        diesel::update(entries)
            .set((
                issued_tokens::token_id.eq(None::<Uuid>),
                issued_tokens::current.eq(false),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}
