//! The kit's own checks: copies, cleanup, runtimes, concurrent template builds, the key.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::admin::{ADMIN, Admin, Count};
use super::*;

/// The platform's migrations alone: a schema the kit can build without a service.
const PLATFORM_ONLY: Schema = Schema {
    service: "testkit",
    migrations: || db::PLATFORM_MIGRATIONS,
    migrations_dir: db::PLATFORM_MIGRATIONS_DIR,
};

async fn databases_named(pattern: &str) -> i64 {
    let mut admin = connect(&admin_url()).await;
    diesel::sql_query("SELECT count(*) AS count FROM pg_database WHERE datname LIKE $1")
        .bind::<Text, _>(pattern)
        .get_result::<Count>(&mut admin)
        .await
        .expect("count databases")
        .count
}

#[tokio::test]
async fn each_test_database_is_a_migrated_copy_of_its_own_dropped_after_use() {
    let first = TestDatabase::new(&PLATFORM_ONLY).await;
    let second = TestDatabase::new(&PLATFORM_ONLY).await;
    assert_ne!(first.name, second.name);
    let mut connection = first.connect().await;
    diesel::sql_query("SELECT 1 FROM request_ids")
        .execute(&mut connection)
        .await
        .expect("the platform's migrations ran in the copy");
    drop(connection);
    let name = first.name.clone();
    drop(first);
    assert_eq!(databases_named(&name).await, 0, "{name} is dropped");
    assert_eq!(databases_named(&second.name).await, 1);
}

#[test]
fn the_admin_connection_outlives_the_runtime_of_the_test_that_opened_it() {
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let database = TestDatabase::new(&PLATFORM_ONLY).await;
            database.connect().await;
        });
    }
}

#[tokio::test]
async fn templates_built_at_once_by_many_publish_one_and_leave_no_copies() {
    // A hash no template has yet stands for a changed migration set.
    let hash = u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().expect("8"));
    let template = format!("trellis_tmpl_testkit_{hash:016x}");
    let built = Admin::run(async move {
        let mut builds = tokio::task::JoinSet::new();
        for _ in 0..4 {
            builds.spawn(ADMIN.build_template(&PLATFORM_ONLY, hash));
        }
        builds.join_all().await
    })
    .await;
    assert!(built.iter().all(|name| *name == template), "{built:?}");
    assert_eq!(databases_named(&template).await, 1);
    assert_eq!(databases_named(&format!("{template}_b%")).await, 0);
    Admin::run(async move {
        ADMIN
            .statement(&format!(r#"DROP DATABASE "{template}" WITH (FORCE)"#))
            .await
            .expect("drop the test's template");
    })
    .await;
}

#[test]
fn the_template_key_covers_every_migration_folder() {
    let service = env!("CARGO_MANIFEST_DIR");
    let both = migrations_hash(&[db::PLATFORM_MIGRATIONS_DIR, service]);
    assert_ne!(both, migrations_hash(&[db::PLATFORM_MIGRATIONS_DIR]));
    assert_ne!(both, migrations_hash(&[service]));
    assert_eq!(
        both,
        migrations_hash(&[db::PLATFORM_MIGRATIONS_DIR, service])
    );
}
