//! An isolated PostgreSQL database per test.
//!
//! Every test gets `CREATE DATABASE … TEMPLATE …` of a template migrated to its service's
//! schema, a copy that takes milliseconds, and drops it with `WITH (FORCE)` when it ends.
//!
//! A test process builds or finds each template once (a once-cell per schema) and keeps one
//! admin connection, on a runtime of its own: each `#[tokio::test]` runs its own runtime, and
//! a connection dies with the runtime that opened it. No lock is taken, yet test processes
//! running side by side (nextest runs each test in its own) share templates safely:
//!
//! - a template's name carries a hash of every migration file it applies (the platform's
//!   and the service's), so two templates of the same name hold the same schema;
//! - a process builds one under a name of its own and renames it into place when migrated,
//!   so a template that exists is complete;
//! - when two processes build the same template at once, the second rename fails with
//!   `duplicate_database` (SQLSTATE 42P04, caught by condition in PL/pgSQL), and that
//!   process drops its copy and uses the other's.

mod admin;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use trellis_platform::db::{self, DbPool, Schema};
use uuid::Uuid;

use admin::{ADMIN, Admin};

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
}

impl TestDatabase {
    pub async fn new(schema: &Schema) -> Self {
        let schema = *schema;
        Admin::run(async move {
            let template = ADMIN.template(&schema).await;
            let name = unique_name(&format!("trellis_test_{}", schema.service));
            ADMIN
                .create_from(&name, &template)
                .await
                .unwrap_or_else(|error| panic!("create test database {name}: {error}"));
            Self::named(name)
        })
        .await
    }

    /// An empty database, not migrated (for testing migrations themselves).
    pub async fn empty(service: &str) -> Self {
        let name = unique_name(&format!("trellis_test_{service}_empty"));
        Admin::run(async move {
            ADMIN
                .statement(&format!(r#"CREATE DATABASE "{name}""#))
                .await
                .expect("create an empty test database");
            Self::named(name)
        })
        .await
    }

    fn named(name: String) -> Self {
        Self {
            url: url_for(&ADMIN.url, &name),
            name,
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
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        // Drop runs inside or outside a runtime: the admin runtime does the work, and this
        // thread waits for it so the database is gone when the test ends.
        let (done, finished) = std::sync::mpsc::channel();
        ADMIN.runtime.spawn(async move {
            let _ = done.send(ADMIN.statement(&statement).await);
        });
        let _ = finished.recv();
    }
}

/// `prefix` and 12 random hex digits: a database name no other test takes.
fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", &Uuid::new_v4().simple().to_string()[..12])
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot connect to PostgreSQL at {url}: {error} (is it running? `make test` starts one)")
        })
}

/// Every folder of migrations that [`db::migrate`] applies for `schema`: the platform's
/// own, then the service's.
fn migration_dirs(schema: &Schema) -> [&'static str; 2] {
    [db::PLATFORM_MIGRATIONS_DIR, schema.migrations_dir]
}

/// FNV-1a over the migration files' folders, names and contents, so a changed migration
/// gets a new template.
fn migrations_hash(dirs: &[&str]) -> u64 {
    fn visit(dir: &Path, files: &mut Vec<PathBuf>) {
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
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (index, dir) in dirs.iter().enumerate() {
        let root = Path::new(dir);
        let mut files = Vec::new();
        visit(root, &mut files);
        files.sort();
        feed(&index.to_le_bytes());
        for file in files {
            feed(
                file.strip_prefix(root)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .as_bytes(),
            );
            feed(&std::fs::read(&file).unwrap_or_default());
        }
    }
    hash
}
