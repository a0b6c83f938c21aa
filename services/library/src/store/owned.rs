//! The queries every table of an account's rows has alike, written once and stamped into
//! each table's module. Assets (data sources, Klips, dashboards) are keyed by id; company
//! properties and variables by name within the account.
//!
//! [`asset_rows!`] gives `get`, `get_for_update`, `load_for_share`, `existing` and `delete`.
//! `existing`, the reuse check of CloneAssets and the check that named assets exist, locks
//! what it finds `FOR SHARE`: a concurrent delete of one of them waits for the transaction,
//! whatever the table.
//!
//! [`related_list!`] gives the `list` of dashboards and Klips; both lists are [`Listed`].
//!
//! [`named_rows!`] gives `get`, `get_for_update`, `list` (by name) and `delete`.

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use trellis_platform::error::StoreError;
use uuid::Uuid;

/// The reads and the delete of a stored type, for the use cases that are the same for each
/// table (a read by key, a change against the row locked at the caller's etag).
pub trait Owned: Sized + Send {
    /// What names a row within its account: an id, or a name.
    type Key: ?Sized + ToString + Sync;

    /// The account's row `key`, locked for update when `for_update`.
    fn one<'a>(
        conn: &'a mut AsyncPgConnection,
        account: Uuid,
        key: &'a Self::Key,
        for_update: bool,
    ) -> BoxFuture<'a, Result<Option<Self>, StoreError>>;

    /// Deletes the account's row `key`; whether there was one.
    fn delete<'a>(
        conn: &'a mut AsyncPgConnection,
        account: Uuid,
        key: &'a Self::Key,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Lists in key order, for the use cases that are the same for each table: by id
/// optionally filtered by a related row (the dashboards showing a Klip, the Klips binding a
/// data source), or by name (company properties and variables).
pub trait Listed: Sized + Send {
    /// What orders the list and its page tokens: an id, or a name.
    type Key: trellis_platform::pagination::PageKey + Clone + Send;
    /// What narrows the list: a related row for assets, nothing for named rows.
    type Filter: Copy + Send;

    /// A page of the account's rows by key, after `after`.
    fn page(
        conn: &mut AsyncPgConnection,
        account: Uuid,
        filter: Self::Filter,
        after: Option<Self::Key>,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<Self>, StoreError>>;

    fn key(&self) -> Self::Key;
}

/// The start of a page of the account's rows of `$table` by `$order`, after `$after`.
macro_rules! page_query {
    ($table:ident, $row:ty, $order:ident, $account:expr, $after:expr, $limit:expr) => {{
        let mut query = $table::table
            .filter($table::account_id.eq($account))
            .select(<$row>::as_select())
            .order($table::$order)
            .limit($limit)
            .into_boxed();
        if let Some(after) = $after {
            query = query.filter($table::$order.gt(after));
        }
        query
    }};
}

/// Implements [`Listed`] for `$item` over the module's `list`.
macro_rules! listed {
    ($item:ty, $key:ty, $filter:ty, $field:ident) => {
        impl $crate::store::owned::Listed for $item {
            type Key = $key;
            type Filter = $filter;

            fn page(
                conn: &mut AsyncPgConnection,
                account: Uuid,
                filter: $filter,
                after: Option<$key>,
                limit: i64,
            ) -> futures::future::BoxFuture<'_, Result<Vec<Self>, StoreError>> {
                Box::pin(list(conn, account, filter, after, limit))
            }

            fn key(&self) -> $key {
                self.$field.clone()
            }
        }
    };
}

/// The first row of `query`, locked for update when `for_update`.
macro_rules! first_row {
    ($query:expr, $conn:expr, $for_update:expr) => {{
        let query = $query;
        if $for_update {
            query.for_update().first($conn).await
        } else {
            query.first($conn).await
        }
        .optional()?
    }};
}

/// `get` and `get_for_update` over the module's `one(conn, account, key, for_update)`.
macro_rules! lookups {
    ($item:ty, $key:ty, $owned_key:ty, $by:tt) => {
        impl $crate::store::owned::Owned for $item {
            type Key = $owned_key;

            fn one<'a>(
                conn: &'a mut AsyncPgConnection,
                account: Uuid,
                key: &'a $owned_key,
                for_update: bool,
            ) -> futures::future::BoxFuture<'a, Result<Option<Self>, StoreError>> {
                Box::pin(one(conn, account, lookups!(@key $by key), for_update))
            }

            fn delete<'a>(
                conn: &'a mut AsyncPgConnection,
                account: Uuid,
                key: &'a $owned_key,
            ) -> futures::future::BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(delete(conn, account, lookups!(@key $by key)))
            }
        }

        pub async fn get(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            key: $key,
        ) -> Result<Option<$item>, StoreError> {
            one(conn, account, key, false).await
        }

        pub async fn get_for_update(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            key: $key,
        ) -> Result<Option<$item>, StoreError> {
            one(conn, account, key, true).await
        }
    };
    (@key copy $key:ident) => { *$key };
    (@key borrow $key:ident) => { $key };
}

/// Stamps the asset queries into a module: `$table` is the schema module, `$row` its
/// selectable row, `$item` the stored type and `$attach` the async function that completes
/// rows into items (`(conn, Vec<$row>) -> Result<Vec<$item>, StoreError>`, keeping order).
macro_rules! asset_rows {
    ($table:ident, $row:ty, $item:ty, $attach:path) => {
        /// The account's row `id`, locked for update when `for_update`.
        async fn one(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            id: Uuid,
            for_update: bool,
        ) -> Result<Option<$item>, StoreError> {
            let query = $table::table
                .filter($table::id.eq(id))
                .filter($table::account_id.eq(account))
                .select(<$row>::as_select());
            let row = first_row!(query, conn, for_update);
            Ok($attach(conn, row.into_iter().collect()).await?.pop())
        }

        lookups!($item, Uuid, Uuid, copy);

        /// The account's rows among `ids`, kept from changing until the transaction ends.
        pub async fn load_for_share(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            ids: &std::collections::BTreeSet<Uuid>,
        ) -> Result<Vec<$item>, StoreError> {
            if ids.is_empty() {
                return Ok(vec![]);
            }
            let rows = $table::table
                .filter($table::account_id.eq(account))
                .filter($table::id.eq_any(ids.iter().copied().collect::<Vec<_>>()))
                .select(<$row>::as_select())
                .order($table::id)
                .for_share()
                .load(conn)
                .await?;
            $attach(conn, rows).await
        }

        /// Which of `ids` are rows of the account, kept from being deleted until the
        /// transaction ends.
        pub async fn existing(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            ids: &std::collections::BTreeSet<Uuid>,
        ) -> Result<std::collections::BTreeSet<Uuid>, StoreError> {
            if ids.is_empty() {
                return Ok(std::collections::BTreeSet::new());
            }
            Ok($table::table
                .filter($table::account_id.eq(account))
                .filter($table::id.eq_any(ids.iter().copied().collect::<Vec<_>>()))
                .select($table::id)
                .for_share()
                .load::<Uuid>(conn)
                .await?
                .into_iter()
                .collect())
        }

        /// Deletes the account's row `id`; whether there was one.
        pub async fn delete(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            id: Uuid,
        ) -> Result<bool, StoreError> {
            let deleted = diesel::delete(
                $table::table
                    .filter($table::id.eq(id))
                    .filter($table::account_id.eq(account)),
            )
            .execute(conn)
            .await?;
            Ok(deleted > 0)
        }
    };
}

/// Stamps into a module the list of an asset table: a page of the account's rows by id,
/// optionally only those linked to `related` through the `$link` table (the dashboards
/// showing a Klip, the Klips binding a data source).
macro_rules! related_list {
    ($table:ident, $row:ty, $item:ty, $attach:path, $link:ident: $related:ident => $own:ident) => {
        pub async fn list(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            related: Option<Uuid>,
            after: Option<Uuid>,
            limit: i64,
        ) -> Result<Vec<$item>, StoreError> {
            let mut query = page_query!($table, $row, id, account, after, limit);
            if let Some(related) = related {
                query = query.filter(
                    $table::id.eq_any(
                        $link::table
                            .filter($link::$related.eq(related))
                            .select($link::$own),
                    ),
                );
            }
            let rows = query.load(conn).await?;
            $attach(conn, rows).await
        }

        listed!($item, Uuid, Option<Uuid>, id);
    };
}

/// Stamps the queries of a table keyed by `(account_id, name)` into a module: `$table` is
/// the schema module, `$row` its selectable row and `$item` the stored type (`From<$row>`).
macro_rules! named_rows {
    ($table:ident, $row:ty, $item:ty) => {
        /// The account's row `name`, locked for update when `for_update`.
        async fn one(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            name: &str,
            for_update: bool,
        ) -> Result<Option<$item>, StoreError> {
            let query = $table::table
                .find((account, name))
                .select(<$row>::as_select());
            let row = first_row!(query, conn, for_update);
            Ok(row.map(Into::into))
        }

        lookups!($item, &str, str, borrow);

        /// A page of the account's rows by name.
        pub async fn list(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            _: (),
            after: Option<String>,
            limit: i64,
        ) -> Result<Vec<$item>, StoreError> {
            Ok(page_query!($table, $row, name, account, after, limit)
                .load::<$row>(conn)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        }

        listed!($item, String, (), name);

        /// Deletes the account's row `name`; whether there was one.
        pub async fn delete(
            conn: &mut AsyncPgConnection,
            account: Uuid,
            name: &str,
        ) -> Result<bool, StoreError> {
            let deleted = diesel::delete($table::table.find((account, name)))
                .execute(conn)
                .await?;
            Ok(deleted > 0)
        }
    };
}
