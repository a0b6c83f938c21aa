//! The use cases: the work of each RPC over the store, with the rules of `domain` and the
//! access policy of [`access`]. Handlers in `crate::api` read a request into typed values,
//! call one of these (inside the platform's transaction-with-replay when the call changes
//! something) and convert the answer to the wire.

pub mod access;
pub mod assets;
pub mod company_properties;
pub mod dashboards;
pub mod klips;
pub mod pages;
pub mod resolving;
pub mod variables;

use diesel_async::AsyncPgConnection;
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_platform::etag;
use uuid::Uuid;

use crate::domain::names::is_property_name;
use crate::domain::stored::Stored;
use crate::store::owned::{Listed, Owned};
use access::Need;
use pages::Pager;

/// The resource a read found, or NOT_FOUND naming `key`.
pub fn found<T: Stored>(found: Option<T>, key: impl ToString) -> ApiResult<T> {
    found.ok_or_else(|| ApiError::not_found(T::KIND, key))
}

/// The resource a change is made against: NOT_FOUND when there is none, ABORTED when the
/// caller read another version of it (`sent_etag`, empty for none).
pub fn current<T: Stored>(found: Option<T>, key: impl ToString, sent_etag: &str) -> ApiResult<T> {
    let current = self::found(found, key)?;
    etag::require(sent_etag, &current.etag(), T::CHANGED)?;
    Ok(current)
}

/// The `T` named `key` in the account the caller reads (`requested`, empty: its own).
pub async fn read<T: Owned + Stored>(
    pool: &DbPool,
    caller: &Caller,
    requested: &str,
    key: &T::Key,
) -> ApiResult<T> {
    let (mut conn, account) = access::reading(pool, caller, requested).await?;
    found(
        T::one(&mut conn, account, key, false).await?,
        key.to_string(),
    )
}

/// The account's `T` named `key`, locked for a change, at the caller's etag.
pub async fn locked<T: Owned + Stored>(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    key: &T::Key,
    sent_etag: &str,
) -> ApiResult<T> {
    current(
        T::one(conn, account, key, true).await?,
        key.to_string(),
        sent_etag,
    )
}

/// Deletes the `T` named `key` in the account a delete names, at the caller's etag, once
/// the caller may change it with `need`; the deleted row.
pub async fn delete<T: Owned + Stored>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    requested: &str,
    (key, sent_etag): (&T::Key, &str),
    need: Need,
) -> ApiResult<T> {
    let account = access::account(conn, caller, requested, "account_id", need).await?;
    let current = locked::<T>(conn, account, key, sent_etag).await?;
    T::delete(conn, account, key).await?;
    Ok(current)
}

/// A page of the `T`s of the account the caller reads (`requested`, empty: its own),
/// narrowed by `filter` (for assets, only those linked to a related row).
pub async fn list<T: Listed, Item: prost::Message>(
    pool: &DbPool,
    caller: &Caller,
    requested: &str,
    filter: T::Filter,
    pager: Pager<T::Key, Item>,
    to_proto: impl Fn(&T) -> Item,
) -> ApiResult<(Vec<Item>, String)> {
    let (mut conn, account) = access::reading(pool, caller, requested).await?;
    pager
        .fill(&mut conn, T::key, to_proto, |conn, after, limit| {
            T::page(conn, account, filter, after, limit)
        })
        .await
}

/// A page of the `T`s of the account the caller reads, by name. A token holding no
/// property name was never issued (the query could not even compare it).
pub async fn list_named<T: Listed<Key = String, Filter = ()>, Item: prost::Message>(
    pool: &DbPool,
    caller: &Caller,
    requested: &str,
    pager: Pager<String, Item>,
    to_proto: impl Fn(&T) -> Item,
) -> ApiResult<(Vec<Item>, String)> {
    let pager = pager.refuse_unless(|name: &String| is_property_name(name))?;
    list(pool, caller, requested, (), pager, to_proto).await
}
