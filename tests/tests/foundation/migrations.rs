//! Migrations apply once per database, in-process and through the `migrate` command.

use diesel_async::RunQueryDsl;
use trellis_e2e::cluster::schema;
use trellis_platform::config::ServiceKind;
use trellis_platform::db;
use trellis_testkit::TestDatabase;
use trellis_testkit::process::binary;

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_per_database() {
    for kind in ServiceKind::ALL {
        let schema = schema(kind);
        let database = TestDatabase::empty(kind.name()).await;
        let folders = |dir: &str| {
            std::fs::read_dir(dir)
                .expect("the migrations folder")
                .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
                .count()
        };
        let own = folders(schema.migrations_dir);
        assert!(own > 0, "{kind:?} has migrations");
        // The platform's migrations (the request ids) are applied first, then the service's.
        let expected = folders(db::PLATFORM_MIGRATIONS_DIR) + own;

        let first = db::migrate(&database.url, &schema).await.expect("migrate");
        assert_eq!(first.len(), expected, "{kind:?}: the first run applies all");
        let second = db::migrate(&database.url, &schema)
            .await
            .expect("migrate again");
        assert!(
            second.is_empty(),
            "{kind:?}: the second run applies none: {second:?}"
        );

        let mut conn = database.connect().await;
        let recorded = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .execute(&mut conn)
            .await
            .expect("the migrations table");
        assert_eq!(recorded, expected, "{kind:?}: each migration recorded once");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrate_command_applies_and_then_finds_nothing_to_do() {
    let database = TestDatabase::empty("library").await;
    for round in 0..2 {
        let output = tokio::process::Command::new(binary("trellis-library"))
            .arg("migrate")
            .env("DATABASE_URL", &database.url)
            .env("TRELLIS_LOG_FORMAT", "json")
            .output()
            .await
            .expect("run trellis-library migrate");
        assert!(output.status.success(), "migrate exits 0");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let applied = stdout
            .lines()
            .filter_map(serde_json_value)
            .find_map(|json| json.get("applied").and_then(|n| n.as_u64()))
            .expect("migrate reports how many it applied");
        if round == 0 {
            assert!(applied > 0);
        } else {
            assert_eq!(applied, 0, "nothing is applied twice");
        }
    }
}

fn serde_json_value(line: &str) -> Option<serde_json::Value> {
    serde_json::from_str(line).ok()
}
