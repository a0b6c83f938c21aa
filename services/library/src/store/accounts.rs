//! Accounts and the partner tree.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::schema::{accounts, dashboards, data_sources, klips};
use crate::domain::account::{AccountKind, AccountPlace};
use crate::domain::stored::Account;

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
struct AccountRow {
    id: Uuid,
    kind: AccountKind,
    parent_id: Option<Uuid>,
    display_name: String,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    time_zone: String,
}

// A stored kind this version does not know is a deserialization error.
trellis_platform::text_column!(AccountKind);

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account {
            id: row.id,
            kind: row.kind,
            parent_id: row.parent_id,
            display_name: row.display_name,
            time_zone: row.time_zone,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Account {
    pub fn place(&self) -> AccountPlace {
        AccountPlace {
            id: self.id,
            kind: self.kind,
            parent_id: self.parent_id,
        }
    }
}

/// How a read locks the account's row until the transaction ends.
enum Lock {
    None,
    Update,
    Share,
}

async fn one(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: Lock,
) -> Result<Option<Account>, StoreError> {
    let query = accounts::table.find(id).select(AccountRow::as_select());
    let row = match lock {
        Lock::None => query.first(conn).await,
        Lock::Update => query.for_update().first(conn).await,
        Lock::Share => query.for_share().first(conn).await,
    }
    .optional()?;
    Ok(row.map(Account::from))
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Account>, StoreError> {
    one(conn, id, Lock::None).await
}

/// The account, locked against concurrent changes until the transaction ends.
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Account>, StoreError> {
    one(conn, id, Lock::Update).await
}

/// The account, kept from changing kind or being deleted until the transaction ends.
pub async fn get_for_share(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Account>, StoreError> {
    one(conn, id, Lock::Share).await
}

pub struct NewAccount<'a> {
    pub id: Uuid,
    pub kind: AccountKind,
    pub parent_id: Option<Uuid>,
    pub display_name: &'a str,
    /// An IANA name, checked by the caller.
    pub time_zone: &'a str,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    account: NewAccount<'_>,
) -> Result<Account, StoreError> {
    let row: AccountRow = diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(account.id),
            accounts::kind.eq(account.kind),
            accounts::parent_id.eq(account.parent_id),
            accounts::display_name.eq(account.display_name),
            accounts::time_zone.eq(account.time_zone),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(row.into())
}

/// Writes the account's fields; the revision grows.
pub async fn update(
    conn: &mut AsyncPgConnection,
    account: &Account,
) -> Result<Account, StoreError> {
    let row: AccountRow = diesel::update(accounts::table.find(account.id))
        .set((
            accounts::kind.eq(account.kind),
            accounts::parent_id.eq(account.parent_id),
            accounts::display_name.eq(&account.display_name),
            accounts::time_zone.eq(&account.time_zone),
            accounts::revision.eq(accounts::revision + 1),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(row.into())
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<bool, StoreError> {
    let deleted = diesel::delete(accounts::table.find(id))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}

/// Which accounts a list may show.
#[derive(Debug, Clone, Copy)]
pub enum Visibility {
    All,
    /// A member: the signed-in account and, for a partner's admin, its clients.
    Member {
        account: Uuid,
        with_clients: bool,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct AccountFilter {
    pub visibility: Visibility,
    pub parent_id: Option<Uuid>,
    pub kind: Option<AccountKind>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: AccountFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Account>, StoreError> {
    let mut query = accounts::table
        .select(AccountRow::as_select())
        .order(accounts::id)
        .limit(limit)
        .into_boxed();
    match filter.visibility {
        Visibility::All => {}
        Visibility::Member {
            account,
            with_clients: true,
        } => query = query.filter(accounts::id.eq(account).or(accounts::parent_id.eq(account))),
        Visibility::Member {
            account,
            with_clients: false,
        } => query = query.filter(accounts::id.eq(account)),
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(accounts::parent_id.eq(parent));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(accounts::kind.eq(kind));
    }
    if let Some(after) = after {
        query = query.filter(accounts::id.gt(after));
    }
    let rows: Vec<AccountRow> = query.load(conn).await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// What an account holds that a delete without `force` refuses to take with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    pub clients: i64,
    pub data_sources: i64,
    pub klips: i64,
    pub dashboards: i64,
}

pub async fn holdings(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Holdings, StoreError> {
    Ok(Holdings {
        clients: accounts::table
            .filter(accounts::parent_id.eq(id))
            .count()
            .get_result(conn)
            .await?,
        data_sources: data_sources::table
            .filter(data_sources::account_id.eq(id))
            .count()
            .get_result(conn)
            .await?,
        klips: klips::table
            .filter(klips::account_id.eq(id))
            .count()
            .get_result(conn)
            .await?,
        dashboards: dashboards::table
            .filter(dashboards::account_id.eq(id))
            .count()
            .get_result(conn)
            .await?,
    })
}
