//! The one admin connection of a test process, on a runtime of its own, and the templates
//! it found or built (see the module documentation of [`super`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::OnceCell;
use trellis_platform::db::{self, Schema};

use super::{admin_url, connect, migration_dirs, migrations_hash, unique_name, url_for};

/// What a test process administers PostgreSQL with (see the module documentation).
pub(super) struct Admin {
    pub(super) url: String,
    pub(super) runtime: tokio::runtime::Runtime,
    /// Opened on first use, and again after it failed.
    connection: tokio::sync::Mutex<Option<AsyncPgConnection>>,
    /// The template of each migration set, by its hash.
    templates: Mutex<HashMap<u64, Arc<OnceCell<String>>>>,
}

pub(super) static ADMIN: LazyLock<Admin> = LazyLock::new(|| Admin {
    url: admin_url(),
    runtime: tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("test-database-admin")
        .enable_all()
        .build()
        .expect("a runtime for the test database kit"),
    connection: tokio::sync::Mutex::new(None),
    templates: Mutex::new(HashMap::new()),
});

#[derive(diesel::QueryableByName)]
pub(super) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(super) count: i64,
}

impl Admin {
    /// Runs `work` on the admin runtime, from whichever runtime the test runs; a panic in it
    /// is the test's.
    pub(super) async fn run<T: Send + 'static>(
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        match ADMIN.runtime.spawn(work).await {
            Ok(value) => value,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Runs `statement` on the admin connection.
    pub(super) async fn statement(&self, statement: &str) -> diesel::QueryResult<()> {
        let mut slot = self.connection.lock().await;
        let result = open(&self.url, &mut slot)
            .await
            .batch_execute(statement)
            .await;
        forget_if_broken(&mut slot, result)
    }

    /// How many rows of `relation` have `datname = database`: in `pg_database`, whether it
    /// exists; in `pg_stat_activity`, its sessions.
    pub(super) async fn count(&self, relation: &str, database: &str) -> diesel::QueryResult<i64> {
        let mut slot = self.connection.lock().await;
        let query = format!("SELECT count(*) AS count FROM {relation} WHERE datname = $1");
        let result = diesel::sql_query(query)
            .bind::<Text, _>(database)
            .get_result::<Count>(open(&self.url, &mut slot).await)
            .await
            .map(|counted| counted.count);
        forget_if_broken(&mut slot, result)
    }

    /// `CREATE DATABASE name TEMPLATE template`, again while a session on the template
    /// (someone looking at it) keeps PostgreSQL from copying it, for up to 30 s.
    pub(super) async fn create_from(&self, name: &str, template: &str) -> diesel::QueryResult<()> {
        let statement = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self.statement(&statement).await {
                Err(_)
                    if tokio::time::Instant::now() < deadline
                        && self.count("pg_stat_activity", template).await? > 0 =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                result => return result,
            }
        }
    }

    /// The name of the template for `schema`, found or built on first use in this process.
    pub(super) async fn template(&self, schema: &Schema) -> String {
        let hash = migrations_hash(&migration_dirs(schema));
        let cell = self
            .templates
            .lock()
            .expect("the templates")
            .entry(hash)
            .or_default()
            .clone();
        cell.get_or_init(|| self.build_template(schema, hash))
            .await
            .clone()
    }

    /// Publishes a template for `schema` unless one exists (see the module documentation).
    pub(super) async fn build_template(&self, schema: &Schema, hash: u64) -> String {
        let template = format!("trellis_tmpl_{}_{hash:016x}", schema.service);
        let found = self.count("pg_database", &template).await;
        if found.expect("look up the template") > 0 {
            return template;
        }
        let building = unique_name(&format!("{template}_b"));
        self.statement(&format!(r#"CREATE DATABASE "{building}""#))
            .await
            .expect("create a template database");
        if let Err(error) = db::migrate(&url_for(&self.url, &building), schema).await {
            let drop = format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#);
            let _ = self.statement(&drop).await;
            panic!("migrate the template database {template}: {error:#}");
        }
        // The migration's connection may still be closing (object_in_use, 55006): the rename
        // waits for it. Whoever renames first publishes; the others drop their copies. Two
        // renames at the same instant can also meet in pg_database's unique index
        // (unique_violation, 23505) rather than in the name check: the same race, lost.
        let publish = format!(
            r#"DO $$
            BEGIN
                FOR attempt IN 1..600 LOOP
                    BEGIN
                        ALTER DATABASE "{building}" RENAME TO "{template}";
                        RETURN;
                    EXCEPTION
                        WHEN duplicate_database OR unique_violation THEN RETURN;
                        WHEN object_in_use THEN PERFORM pg_sleep(0.05);
                    END;
                END LOOP;
                RAISE EXCEPTION 'database {building} is still in use';
            END $$"#
        );
        self.statement(&publish)
            .await
            .expect("publish the template database");
        self.statement(&format!(
            r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#
        ))
        .await
        .expect("drop the copy another process published first");
        template
    }
}

/// The admin connection in `slot`, opened unless it is open.
async fn open<'a>(url: &str, slot: &'a mut Option<AsyncPgConnection>) -> &'a mut AsyncPgConnection {
    if slot.is_none() {
        *slot = Some(connect(url).await);
    }
    slot.as_mut().expect("opened above")
}

/// `result`, after closing the admin connection if it failed (it opens again next time).
fn forget_if_broken<T>(
    slot: &mut Option<AsyncPgConnection>,
    result: diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    use diesel::result::{DatabaseErrorKind, Error};
    if let Err(
        Error::BrokenTransactionManager
        | Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        ),
    ) = &result
    {
        *slot = None;
    }
    result
}
