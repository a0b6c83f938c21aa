//! An isolated PostgreSQL database per test.
//!
//! The first test of a run that needs a service's database builds a template database,
//! named after the hash of that service's migrations, under an advisory lock so parallel
//! test processes build it once; every test then gets `CREATE DATABASE … TEMPLATE …`, a
//! copy that takes milliseconds, and drops it with `WITH (FORCE)` when it ends.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use trellis_platform::db::{self, DbPool, Schema};
use uuid::Uuid;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL tests administer PostgreSQL through.
pub fn admin_url() -> String {
    std::env::var("TRELLIS_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// `base` with its database name replaced by `name`.
pub fn url_for(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("TRELLIS_TEST_DATABASE_URL is a valid URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A database of one's own for one test, migrated to the service's current schema.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDatabase {
    pub async fn new(schema: &Schema) -> Self {
        let admin_url = admin_url();
        let template = ensure_template(&admin_url, schema).await;
        let name = format!(
            "trellis_test_{}_{}",
            schema.service,
            &Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = connect(&admin_url).await;
        let create = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#);
        retry_while_busy(&mut admin, &create).await;
        Self {
            url: url_for(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// An empty database, not migrated (for testing migrations themselves).
    pub async fn empty(service: &str) -> Self {
        let admin_url = admin_url();
        let name = format!(
            "trellis_test_{service}_empty_{}",
            &Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .expect("create an empty test database");
        Self {
            url: url_for(&admin_url, &name),
            name,
            admin_url,
        }
    }

    pub fn pool(&self) -> DbPool {
        db::pool(&self.url, 8).expect("a pool for the test database")
    }

    pub async fn connect(&self) -> AsyncPgConnection {
        connect(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        // Drop may run inside or outside a runtime; a thread of its own works in both.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = admin.batch_execute(&statement).await;
                }
            });
        })
        .join();
    }
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot connect to PostgreSQL at {url}: {error} (is it running? `make test` starts one)")
        })
}

/// Builds the template for `schema` unless it exists; returns its name.
async fn ensure_template(admin_url: &str, schema: &Schema) -> String {
    let hash = migrations_hash(schema);
    let template = format!("trellis_tmpl_{}_{:016x}", schema.service, hash);
    let mut admin = connect(admin_url).await;
    let lock_key = (hash >> 1) as i64;
    diesel::sql_query(format!("SELECT pg_advisory_lock({lock_key})"))
        .execute(&mut admin)
        .await
        .expect("take the template lock");

    let exists = diesel::sql_query(format!(
        "SELECT 1 AS one FROM pg_database WHERE datname = '{template}'"
    ))
    .execute(&mut admin)
    .await
    .expect("look up the template")
        > 0;
    if !exists {
        let building = format!("{template}_building");
        for statement in [
            format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#),
            format!(r#"CREATE DATABASE "{building}""#),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .expect("create the template database");
        }
        db::migrate(&url_for(admin_url, &building), schema)
            .await
            .expect("migrate the template database");
        let rename = format!(r#"ALTER DATABASE "{building}" RENAME TO "{template}""#);
        retry_while_busy(&mut admin, &rename).await;
    }

    diesel::sql_query(format!("SELECT pg_advisory_unlock({lock_key})"))
        .execute(&mut admin)
        .await
        .expect("release the template lock");
    template
}

/// FNV-1a over the migration files' names and contents, so a changed migration gets a new
/// template.
fn migrations_hash(schema: &Schema) -> u64 {
    fn visit(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    visit(&path, files);
                } else {
                    files.push(path);
                }
            }
        }
    }
    let root = std::path::Path::new(schema.migrations_dir);
    let mut files = Vec::new();
    visit(root, &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in files {
        feed(
            file.strip_prefix(root)
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        feed(&std::fs::read(&file).unwrap_or_default());
    }
    hash
}

/// Runs `statement`, retrying while PostgreSQL says the database is still in use (a
/// closing connection lingers for a moment).
async fn retry_while_busy(admin: &mut AsyncPgConnection, statement: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match admin.batch_execute(statement).await {
            Ok(()) => return,
            Err(error)
                if error.to_string().contains("being accessed by other users")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{statement}: {error}"),
        }
    }
}
